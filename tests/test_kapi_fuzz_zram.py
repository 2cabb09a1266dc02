"""The kernel functions zsmalloc and zram need (kcourse.kapi.cpuhp, zpool, zsmalloc_stops,
block_bio, zram_lib, zram_stops) called with hostile arguments, as tests/test_kapi_fuzz_netdev.py
calls netdev's: each call ends as the kernel's would or with one of the simulator's own
outcomes (a fault that becomes an oops, a kernel errno, a one-line limit), never a Python
error.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kapi_fuzz import call_hostile, functions_of, hostile_machine

from kcourse.errors import KcourseError
from kcourse.kernel import structs as S
from kcourse.machine.machine import ModuleFault

FILES = ("cpuhp", "zpool", "zsmalloc_stops", "page_stops", "block_bio", "zram_lib",
         "zram_stops")
NAMES = sorted(set(functions_of(*FILES)) | {"idr_for_each"})


machine = pytest.fixture(scope="module")(hostile_machine)


def test_the_files_declare_functions():
    assert {"__cpuhp_setup_state", "__cpuhp_state_add_instance", "zpool_register_driver",
            "alloc_pages", "__blk_alloc_disk", "memparse", "crypto_has_alg"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_hostile_arguments_end_cleanly(machine, name, data):
    call_hostile(machine, name, data, extra=(63, 67, 70, 201, 236))


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_hostile_attribute_groups_end_cleanly(machine, data):
    """device_add_disk of a blk_alloc_disk disk with a hostile groups array (and hostile
    group and attribute pointers in it)."""
    m, zeroed, filled = machine
    disk = m.call(m.kernel_symbol("__blk_alloc_disk"), (1 << 32) - 1, 0)
    name = data.draw(st.sampled_from([b"fz0", b"fz1", b"", b"a/b"]))
    m.space.write(disk + S.offsetof("gendisk", "disk_name"), name + b"\0")
    m.space.write(disk + S.offsetof("gendisk", "minors"), (1).to_bytes(4, "little"))
    m.space.write(disk + S.offsetof("gendisk", "major"), (254).to_bytes(4, "little"))
    array = m.kernel_alloc(64)
    entries = data.draw(st.lists(st.sampled_from([0, 1, 4096, zeroed, filled, array,
                                                  (1 << 64) - 1]), min_size=3, max_size=3))
    for i, entry in enumerate(entries):
        m.space.write_u64(array + 8 * i, entry)
    groups = data.draw(st.sampled_from([array, filled, 0xDEAD_0000_0000]))
    try:
        m.call(m.kernel_symbol("device_add_disk"), 0, disk, groups)
        m.call(m.kernel_symbol("del_gendisk"), disk)
        m.call(m.kernel_symbol("put_disk"), disk)
    except (ModuleFault, KcourseError):
        pass
