"""The kernel functions of jump_label, platform, devres, dma, panic, ratelimit, rcu, lib,
i2c, nls, firmware and pci (kcourse.kapi) called with hostile arguments: NULL, small numbers,
unmapped and non-canonical addresses, -1, and pointers to zeroed or 0xff-filled kernel
memory. Each call must end as the kernel's would or with one of the simulator's own
outcomes (a fault that becomes an oops, a kernel errno, a one-line limit), never a Python
error.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kapi_fuzz import call_hostile, functions_of, hostile_machine

FILES = ("jump_label", "platform", "devres", "dma", "panic", "ratelimit", "rcu", "lib", "i2c",
         "nls", "firmware", "pci", "busdriver", "irq", "capability")
NAMES = functions_of(*FILES)


machine = pytest.fixture(scope="module")(hostile_machine)


def test_the_new_files_declare_functions():
    assert len(NAMES) > 60 and "i2c_transfer" in NAMES and "static_key_enable" in NAMES


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_hostile_arguments_end_cleanly(machine, name, data):
    call_hostile(machine, name, data)
