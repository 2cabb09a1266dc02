"""The emulated x86-64 machine that runs each module's own code (unicorn, imported lazily).

address_space.py  page tables and emulated RAM; the kernel's view of memory
cpu.py            the CPU in long mode, the kernel's fixed regions
machine.py        Machine: binding symbols, calls into module code and back, traps
placement.py      a module's sections placed and relocated (relocate.py) as 6.1 does
files.py          init/exit and file operations as the Kernel calls them
faults.py         traps turned into the oops the kernel prints
tasks.py          where the pinned kernel keeps the current task's fields
"""
