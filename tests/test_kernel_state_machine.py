"""Random insmod/rmmod/rmmod -f/open/close sequences keep the kernel's invariants.

The rules are kernel/module/main.c's (6.1): refcnt counts dependents plus held references
(module_refcount, ref_module, try_module_get from fops_get); delete_module refuses a module
with holders even when forced; only the transitions of states.TRANSITIONS happen; a refused
syscall changes nothing visible; /proc/modules and /sys/module describe the same modules.
"""

import os
import re

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from kcourse.kernel import Kernel, KernelErrno, ModuleState
from kcourse.kernel.states import TRANSITIONS
from kcourse.paths import course_module

NAMES = ["hello", "provider", "consumer", "noexit", "kcdev", "failinit", "leaker", "noleak",
         "proprietary"]


class KernelMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.k = Kernel(seed=0)
        self.fds: list[int] = []

    def _refused_changes_nothing(self, call):
        before = self.k.snapshot()
        try:
            call()
        except KernelErrno:
            assert self.k.snapshot() == before
            return False
        return True

    @rule(name=st.sampled_from(NAMES), params=st.sampled_from(["", "whom=x", "count=bad",
                                                               "nope=1"]))
    def insmod(self, name, params):
        live_before = self.k.find_module(name) is not None
        ok = self._refused_changes_nothing(
            lambda: self.k.finit_module(course_module(name), params if name == "hello" else ""))
        if live_before:
            assert not ok  # EEXIST
        if ok:
            assert self.k.find_module(name).state == ModuleState.LIVE

    @rule(name=st.sampled_from(NAMES), force=st.booleans())
    def rmmod(self, name, force):
        mod = self.k.find_module(name)
        holders = list(mod.source_list) if mod else []
        flags = os.O_NONBLOCK | (os.O_TRUNC if force else 0)
        ok = self._refused_changes_nothing(lambda: self.k.delete_module(name, flags))
        if ok:
            assert not holders  # no module leaves while it has holders
            assert self.k.find_module(name) is None
            for other in self.k.modules:
                assert name not in other.source_list and name not in other.target_list

    @rule()
    def open_device(self):
        if "kcdev" in self.k.devices:
            self.fds.append(self.k.open("/dev/kcdev"))

    @rule(data=st.data())
    def close_device(self, data):
        if self.fds:
            fd = data.draw(st.sampled_from(self.fds))
            self.fds.remove(fd)
            self.k.close(fd)

    @invariant()
    def refcnt_is_dependents_plus_references(self):
        for mod in self.k.modules:
            if mod.state == ModuleState.LIVE:
                assert mod.module_refcount() == self.k.refcount_expected(mod)

    @invariant()
    def holders_and_used_by_agree(self):
        lines = self.k.read_file("/proc/modules").splitlines()
        for line in lines:
            name, size, refcnt, deps, state, addr, *taint = line.split(" ")
            holders = [e.name for e in self.k.list_dir(f"/sys/module/{name}/holders")]
            listed = [d for d in deps.split(",") if d and d != "-" and d != "[permanent]"]
            assert sorted(holders) == sorted(listed)
            assert self.k.read_file(f"/sys/module/{name}/refcnt") == f"{refcnt}\n"
            core = int(self.k.read_file(f"/sys/module/{name}/coresize"))
            init = int(self.k.read_file(f"/sys/module/{name}/initsize"))
            assert int(size) == core + init
            assert state == "Live" and re.fullmatch(r"0x[0-9a-f]{16}", addr)
            assert self.k.read_file(f"/sys/module/{name}/taint").strip() == \
                (taint[0].strip("()") if taint else "")
        assert sorted(ln.split(" ")[0] for ln in lines) == \
            sorted(e.name for e in self.k.list_dir("/sys/module"))

    @invariant()
    def only_kernel_transitions(self):
        for event in self.k.events:
            if event.kind == "state":
                old, new = event.detail
                key = (None if old is None else ModuleState[old],
                       None if new is None else ModuleState[new])
                assert key in TRANSITIONS

    @invariant()
    def dependencies_are_symmetric(self):
        names = {m.name: m for m in self.k.modules}
        for mod in self.k.modules:
            for target in mod.target_list:
                assert mod.name in names[target].source_list


KernelMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=25,
                                           deadline=None)
TestKernelMachine = KernelMachine.TestCase
