"""The virtual consoles, as the lab's QEMU machine has them (drivers/tty/vt/vt.c).

Debian's kernel has CONFIG_VT=y; the lab's guest boots with a serial console and no display,
so vt.c's con_init allocates console 0 only (vc_cons[0].d, vc_num 0) and nobody has opened
tty0, so its port's tty is NULL; fg_console is 0. Recorded there: LKMPG's kbleds prints
"fgconsole is 0" and "console[0/63] #0, tty 0000000000000000", then dereferences that NULL
tty (kbleds_init+0x8c, address 0x10: tty_struct's driver).
"""

from __future__ import annotations

from kcourse.kapi.registry import data, function
from kcourse.kernel import structs

MAX_NR_CONSOLES = 63  # include/uapi/linux/vt.h


@data("int fg_console", "drivers/tty/vt/vt.c", 4)
def fg_console(machine, address):
    return (0).to_bytes(4, "little")


@data("struct vc vc_cons[MAX_NR_CONSOLES]", "drivers/tty/vt/vt.c",
      MAX_NR_CONSOLES * structs.sizeof("vc"))
def vc_cons(machine, address):
    console0 = machine.kernel_alloc(structs.sizeof("vc_data"))  # vc_num 0, port.tty NULL
    table = bytearray(MAX_NR_CONSOLES * structs.sizeof("vc"))
    table[structs.offsetof("vc", "d"):structs.offsetof("vc", "d") + 8] = \
        console0.to_bytes(8, "little")
    return bytes(table)


@function("struct tty_struct *get_current_tty(void)", "drivers/tty/tty_jobctrl.c")
def get_current_tty(call):
    """The calling process's controlling terminal: none. The simulator's shell, like the lab's
    `bash -i` reading a script (kcourse.lab), runs without a terminal, so current->signal->tty
    is NULL (recorded: LKMPG's print_string prints nothing on Debian's kernel there)."""
    return 0
