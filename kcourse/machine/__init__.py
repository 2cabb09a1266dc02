"""The emulated x86-64 machine that runs each module's own code (unicorn, imported lazily).

address_space.py  page tables and emulated RAM; the kernel's view of memory
cpu.py            the CPU in long mode, the kernel's fixed regions
machine.py        Machine: binding symbols, calls into module code and back, traps
placement.py      a module's sections placed and relocated (relocate.py) as 6.1 does
files.py          init/exit and file operations as the Kernel calls them
faults.py         traps turned into the oops the kernel prints; bugs.py: BUG()/WARN()
privileged.py     ring-0 instructions and traps unicorn would run differently
tasks.py          where the pinned kernel keeps the current task's fields (from its BTF)
threads.py        kernel threads with their own stacks; scheduler.py, softirqs.py,
                  wheel.py, workers.py: time and deferred work on the logical clock
contexts.py       the checks the kernel makes around init and exit
unwind.py         the ORC unwinder over module code, for stack dumps
"""
