"""The kernel functions of sysctl, filesystems and fs_stops (kcourse.kapi) called with hostile
arguments, as tests/test_kapi_fuzz_netdev.py calls netdev's: each call ends as the kernel's
would or with one of the simulator's own outcomes (a fault that becomes an oops, a kernel
errno, a one-line limit), never a Python error.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kapi_fuzz import call_hostile, functions_of, hostile_machine

FILES = ("sysctl", "filesystems", "fs_stops")
NAMES = functions_of(*FILES)


machine = pytest.fixture(scope="module")(hostile_machine)


def test_the_files_declare_functions():
    assert {"register_sysctl", "unregister_sysctl_table", "proc_dostring", "proc_dointvec",
            "memdup_user", "register_filesystem", "unregister_filesystem", "memchr", "strsep",
            "mktime64", "mount_bdev", "zlib_inflate"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_hostile_arguments_end_cleanly(machine, name, data):
    call_hostile(machine, name, data, extra=((1 << 31) - 1, 1 << 63))


@pytest.fixture(scope="module")
def cdrom_shell(tree_shell):
    sh = tree_shell(["cdrom"])
    assert sh.run("modprobe cdrom").rc == 0
    return sh


@pytest.mark.parametrize("file", ["debug", "info"])
@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=st.sampled_from(list("0123456789 -+x\t\nabc,\xa0")), max_size=40))
def test_hostile_writes_to_cdroms_files_end_cleanly(cdrom_shell, file, text):
    """Whatever bash writes to cdrom's sysctl files, the write succeeds or fails with the
    kernel's errno (EINVAL for a bad number, EACCES for the 0444 info), and a read after it
    gives a line: never a Python error."""
    sh = cdrom_shell
    r = sh.run(f"echo -n '{text}' > /proc/sys/dev/cdrom/{file}")
    assert r.rc in (0, 1) and r.stderr.count("\n") <= 1
    if r.rc:
        assert "Invalid argument" in r.stderr or "Permission denied" in r.stderr
    back = sh.run(f"cat /proc/sys/dev/cdrom/{file}")
    assert back.rc == 0 and back.stdout.endswith("\n")
