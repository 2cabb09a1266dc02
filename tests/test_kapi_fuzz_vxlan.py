"""The kernel functions of udp_tunnel_stops, vxlan_stops and net_chains (kcourse.kapi) called
with hostile arguments, as tests/test_kapi_fuzz_netdev.py calls netdev's: each call ends as
the kernel's would or with one of the simulator's own outcomes (a fault that becomes an
oops, a kernel errno, a one-line limit), never a Python error.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kapi_fuzz import call_hostile, functions_of, hostile_machine

FILES = ("udp_tunnel_stops", "vxlan_stops", "net_chains")
NAMES = functions_of(*FILES)


machine = pytest.fixture(scope="module")(hostile_machine)


def test_the_files_declare_functions():
    assert len(NAMES) >= 85 and {"sock_create_kern", "rtnl_create_link", "__rtnl_register_many",
                                 "register_switchdev_notifier"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_hostile_arguments_end_cleanly(machine, name, data):
    call_hostile(machine, name, data)
