"""The virtual consoles' table as the lab's machine has it (drivers/tty/vt/vt.c).

The lab's guest (QEMU, a serial console, no VT opened: kcourse.lab) has the VT layer's
first console allocated at boot (con_init) and no other: vc_cons[0].d is a vc_data for
console 0, whose port has no tty (nobody opened /dev/tty1), and vc_cons[1..62].d are NULL;
fg_console is 0. That is what Debian's real kernel showed LKMPG's kbleds
(data/lkmpg/kbleds/real.expected: "console[0/63] #0, tty 0000000000000000", then the oops
on the NULL tty).
"""

from __future__ import annotations

from kcourse.kapi.registry import data, function
from kcourse.kernel import structs

MAX_NR_CONSOLES = 63  # include/uapi/linux/vt.h
VC_SIZE = structs.sizeof("vc")
VC_D = structs.offsetof("vc", "d")
VC_NUM = structs.offsetof("vc_data", "vc_num")


@data("int fg_console", "drivers/tty/vt/vt.c", 4)
def fg_console(machine, address):
    return (0).to_bytes(4, "little")


@data("struct vc vc_cons[MAX_NR_CONSOLES]", "drivers/tty/vt/vt.c", VC_SIZE * MAX_NR_CONSOLES)
def vc_cons(machine, address):
    table = bytearray(VC_SIZE * MAX_NR_CONSOLES)
    console0 = machine.kernel_alloc(structs.sizeof("vc_data"))  # zeroed: port.tty is NULL
    machine.space.write(console0 + VC_NUM, (0).to_bytes(4, "little"))
    table[VC_D:VC_D + 8] = console0.to_bytes(8, "little")
    return bytes(table)


@function("struct tty_struct *get_current_tty(void)", "drivers/tty/tty_jobctrl.c")
def get_current_tty(call):
    """The calling process's controlling terminal: none. The simulator's shell, like the lab's
    `bash -i` reading a script (kcourse.lab), runs without a terminal, so current->signal->tty
    is NULL (recorded: LKMPG's print_string prints nothing on Debian's kernel there)."""
    return 0
