"""The kernel functions zsmalloc and zram need (kcourse.kapi.cpuhp, zpool, zsmalloc_stops,
zram_kapi, zram_stops) called with hostile arguments, as tests/test_kapi_fuzz_netdev.py
calls netdev's: each call ends as the kernel's would or with one of the simulator's own
outcomes (a fault that becomes an oops, a kernel errno, a one-line limit), never a Python
error.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kcourse.errors import KcourseError
from kcourse.kapi import registry
from kcourse.kernel import Kernel
from kcourse.machine.machine import ModuleFault

FILES = ("cpuhp", "zpool", "zsmalloc_stops", "zram_kapi", "zram_stops")
registry.load_all()
NAMES = sorted(name for name, fn in registry.FUNCTIONS.items()
               if fn.impl.__module__.rsplit(".", 1)[-1] in FILES)


@pytest.fixture(scope="module")
def machine():
    kernel = Kernel(seed=0)
    machine = kernel.emulator
    zeroed = machine.kernel_alloc(8192)
    filled = machine.kernel_alloc(8192)
    machine.space.write(filled, b"\xff" * 8192)
    return machine, zeroed, filled


def test_the_files_declare_functions():
    assert {"__cpuhp_setup_state", "__cpuhp_state_add_instance", "zpool_register_driver",
            "alloc_pages"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_hostile_arguments_end_cleanly(machine, name, data):
    m, zeroed, filled = machine
    value = st.sampled_from([0, 1, 16, 63, 67, 70, 201, 236, 4096, 0xDEAD_0000_0000,
                             (1 << 64) - 1, 0xFFFF_FFFF_FFFF_0000, zeroed, zeroed + 8, filled,
                             filled + 100])
    args = data.draw(st.lists(value, min_size=8, max_size=8))
    try:
        m.call(m.kernel_symbol(name), *args[:6])
    except (ModuleFault, KcourseError):
        pass
