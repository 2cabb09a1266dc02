"""The kernel's exported functions and data, modelled in Python, one file per subsystem.

Module code running on the emulated CPU (kcourse.machine) calls these when it calls the
kernel: registry.py holds the table (each entry with its C prototype and the kernel file it
mirrors), abi.py reads the arguments. Each subsystem works on the Kernel's own models
(printk ring, memory ledger, devices, parameters) through the Kernel it is handed.
"""
