"""The kernel functions of netdev, netdev_stops, net_namespace, skbuff, rbtree, percpu, rwsem
and random_bytes (kcourse.kapi) called with hostile arguments, as
tests/test_kapi_fuzz_kapi4.py calls the others: each call ends as the kernel's would or with
one of the simulator's own outcomes (a fault that becomes an oops, a kernel errno, a one-line
limit), never a Python error.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kapi_fuzz import call_hostile, functions_of, hostile_machine

FILES = ("netdev", "netdev_stops", "net_namespace", "skbuff", "rbtree", "percpu", "rwsem",
         "random_bytes")
NAMES = functions_of(*FILES)


machine = pytest.fixture(scope="module")(hostile_machine)


def test_the_files_declare_functions():
    assert len(NAMES) > 50 and {"register_netdevice", "rb_erase", "skb_clone"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_hostile_arguments_end_cleanly(machine, name, data):
    call_hostile(machine, name, data)
