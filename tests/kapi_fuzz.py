"""What the hostile-argument fuzz tests of kapi files share (tests/test_kapi_fuzz_*.py).

Each test calls every function a set of kapi files declares, through the emulated CPU's own
call path, with arguments drawn from values that break careless code (NULL, small and huge
numbers, non-canonical and unmapped addresses, pointers into zeroed and 0xff-filled kernel
memory). A call must end as the kernel's would, or with one of the simulator's own outcomes:
a fault that becomes an oops (ModuleFault), a kernel errno or a one-line limit
(KcourseError); never a Python error.
"""

from __future__ import annotations

from hypothesis import strategies as st

from kcourse.errors import KcourseError
from kcourse.kapi import registry
from kcourse.kernel import Kernel
from kcourse.machine.machine import ModuleFault

HOSTILE = (0, 1, 16, 4096, 0xDEAD_0000_0000, (1 << 64) - 1, 0xFFFF_FFFF_FFFF_0000)


def functions_of(*files: str) -> list[str]:
    """The names of the functions the kapi files `files` (module names) declare."""
    registry.load_all()
    return sorted(name for name, fn in registry.FUNCTIONS.items()
                  if fn.impl.__module__.rsplit(".", 1)[-1] in files)


def hostile_machine():
    """A fresh kernel's machine, with an 8 KiB zeroed and an 8 KiB 0xff-filled buffer."""
    machine = Kernel(seed=0).emulator
    zeroed = machine.kernel_alloc(8192)
    filled = machine.kernel_alloc(8192)
    machine.space.write(filled, b"\xff" * 8192)
    return machine, zeroed, filled


def call_hostile(machine, name: str, data, extra: tuple[int, ...] = ()) -> None:
    """Call `name` with six arguments drawn from HOSTILE, `extra` and the two buffers."""
    m, zeroed, filled = machine
    value = st.sampled_from([*HOSTILE, *extra, zeroed, zeroed + 8, filled, filled + 100])
    args = data.draw(st.lists(value, min_size=6, max_size=6))
    try:
        m.call(m.kernel_symbol(name), *args)
    except (ModuleFault, KcourseError):
        pass
