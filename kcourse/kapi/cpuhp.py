"""CPU hotplug states: __cpuhp_setup_state, __cpuhp_remove_state and the multi-instance
__cpuhp_state_add_instance / __cpuhp_state_remove_instance (kernel/cpu.c, 6.1), as
zsmalloc's zs_init (CPUHP_MM_ZS_PREPARE) and zram's zram_init and zcomp_create
(CPUHP_ZCOMP_PREPARE, multi-instance) call them.

A state is one slot of cpuhp_hp_states[] (enum cpuhp_state, from the pinned kernel's BTF):
setting it up names it and stores its callbacks (cpuhp_store_callbacks: -EBUSY if the slot
has a name already; CPUHP_BP_PREPARE_DYN and CPUHP_AP_ONLINE_DYN hand out the first free
slot of their range and return its number). With `invoke`, the startup callback runs for
each present CPU that is at or past the state: the lab's guest has one CPU, online, so it
runs once, for CPU 0, and a failure takes the state back (cpuhp_rollback_install has
nothing to undo on one CPU). Removing runs the teardown callback the same way, or, for a
multi-instance state, WARNs if instances are left. Instances are kept on the Python side in
the order they were added (hlist_add_head); the module's hlist_node is not written.

The slots the guest's own kernel named at boot are BOOT_STATES (its
/sys/devices/system/cpu/hotplug/states, tests/data/zram/hotplug.expected); that file is not
made here. Not modelled: CPUs coming and going (no CPU is ever hot-plugged here, so the
callbacks run only from these calls), and the AP states' runs on the CPU itself (cpuhp_issue_call
through the hotplug thread: with one CPU the caller's CPU is that CPU).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kcourse.kapi import kwarn
from kcourse.kapi.registry import function
from kcourse.kapi.vfsfile import limit
from kcourse.kernel import structs as S

EINVAL, EBUSY, ENOSPC = 22, 16, 28
CPU_PRESENT = (0,)  # the lab's guest: -smp 1
STATES = S.enum("cpuhp_state")
CPUHP_OFFLINE, CPUHP_ONLINE = STATES["CPUHP_OFFLINE"], STATES["CPUHP_ONLINE"]
DYNAMIC = {STATES["CPUHP_BP_PREPARE_DYN"]: STATES["CPUHP_BP_PREPARE_DYN_END"],
           STATES["CPUHP_AP_ONLINE_DYN"]: STATES["CPUHP_AP_ONLINE_DYN_END"]}
# The named states of the lab's guest after boot (cat /sys/devices/system/cpu/hotplug/states
# on 6.1.0-56-amd64 under QEMU: tests/data/zram/hotplug.expected).
BOOT_STATES = frozenset((
    0, 1, 2, 9, 11, 13, 15, 16, 21, 22, 23, 24, 26, 27, 28, 29, 31, 32, 33, 34, 36, 40, 41,
    43, 46, 47, 48, 50, 59, 62, 64, 65, 68, 70, 91, 92, 93, 94, 95, 148, 149, 152, 153, 155,
    156, 158, 159, 162, *range(196, 211), 235, 236))


@dataclass
class Step:
    name: bytes
    startup: int
    teardown: int
    multi: bool
    owner: object = field(default=None, repr=False)
    instances: list[int] = field(default_factory=list)  # hlist_node addresses, newest first


def steps(machine) -> dict[int, Step]:
    return machine.objects.setdefault("cpuhp_steps", {})


def _named(machine, state: int) -> bool:
    return state in BOOT_STATES or state in steps(machine)


def _invalid(state: int) -> bool:
    """cpuhp_cb_check: a state outside (CPUHP_OFFLINE, CPUHP_ONLINE)."""
    return state <= CPUHP_OFFLINE or state >= CPUHP_ONLINE


def _int(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >> 31 else value


def _bug_on(call, what: str, state: int):
    """BUG_ON(cpuhp_cb_check(state)): the kernel oopses; here one line."""
    return limit(f"kcourse: {call.site} passes {what} the CPU hotplug state {state}, outside "
                 f"({CPUHP_OFFLINE}, {CPUHP_ONLINE}): the kernel BUG()s there (kernel/cpu.c "
                 "cpuhp_cb_check), which the simulator does not model")


def _issue(call, step: Step, bringup: bool, node: int | None) -> int:
    """cpuhp_issue_call -> cpuhp_invoke_callback on CPU 0: a single state's callback, one
    instance's (node), or every instance's for a multi-instance state without a node."""
    fn = step.startup if bringup else step.teardown
    if not fn:
        return 0
    if not step.multi:
        return _int(call.machine.call(fn, 0))
    for each in [node] if node is not None else list(step.instances):
        ret = _int(call.machine.call(fn, 0, each))
        if ret:
            return ret
    return 0


@function("int __cpuhp_setup_state(enum cpuhp_state state, const char *name, bool invoke, "
          "int (*startup)(unsigned int cpu), int (*teardown)(unsigned int cpu), "
          "bool multi_instance)", "kernel/cpu.c")
def __cpuhp_setup_state(call, state, name, invoke, startup, teardown, multi_instance):
    state &= 0xFFFFFFFF
    if _invalid(state) or name is None:
        return -EINVAL
    machine = call.machine
    dynamic = state in DYNAMIC
    if dynamic:  # cpuhp_reserve_state: the first slot of the range without a name
        free = [s for s in range(state, DYNAMIC[state] + 1) if not _named(machine, s)]
        if not free:
            kwarn.warn(call, "kernel/cpu.c:1945", "cpuhp_reserve_state",
                       "No more dynamic states available for CPU hotplug")
            return -ENOSPC
        state = free[0]
    elif _named(machine, state):
        return -EBUSY
    step = Step(name, startup, teardown, bool(multi_instance), call.caller)
    steps(machine)[state] = step
    if invoke and startup:
        for _cpu in CPU_PRESENT:  # every CPU is online: its state is >= this one
            ret = _issue(call, step, True, None)
            if ret:
                del steps(machine)[state]  # cpuhp_store_callbacks(state, NULL, ...)
                return ret
    return state if dynamic else 0


@function("void __cpuhp_remove_state(enum cpuhp_state state, bool invoke)", "kernel/cpu.c")
def __cpuhp_remove_state(call, state, invoke):
    state &= 0xFFFFFFFF
    if _invalid(state):
        raise _bug_on(call, "__cpuhp_remove_state", state)
    step = steps(call.machine).get(state)
    if step is None:
        return  # a slot without callbacks: cpuhp_store_callbacks(state, NULL, ...) only
    if step.multi:
        if step.instances:
            kwarn.warn(call, "kernel/cpu.c:2257", "__cpuhp_remove_state_cpuslocked",
                       f"Error: Removing state {state} which has instances left.")
    elif invoke:
        for _cpu in CPU_PRESENT:
            _issue(call, step, False, None)
    del steps(call.machine)[state]


@function("int __cpuhp_state_add_instance(enum cpuhp_state state, struct hlist_node *node, "
          "bool invoke)", "kernel/cpu.c")
def __cpuhp_state_add_instance(call, state, node, invoke):
    state &= 0xFFFFFFFF
    step = steps(call.machine).get(state)
    if step is None or not step.multi:  # cpuhp_get_step(state)->multi_instance is false
        return -EINVAL
    if invoke and step.startup:
        for _cpu in CPU_PRESENT:
            ret = _issue(call, step, True, node)
            if ret:
                return ret  # cpuhp_rollback_install: nothing ran on another CPU
    step.instances.insert(0, node)
    return 0


@function("int __cpuhp_state_remove_instance(enum cpuhp_state state, "
          "struct hlist_node *node, bool invoke)", "kernel/cpu.c")
def __cpuhp_state_remove_instance(call, state, node, invoke):
    state &= 0xFFFFFFFF
    if _invalid(state):
        raise _bug_on(call, "__cpuhp_state_remove_instance", state)
    step = steps(call.machine).get(state)
    if step is None or not step.multi:
        return -EINVAL
    if invoke and step.teardown:
        for _cpu in CPU_PRESENT:
            _issue(call, step, False, node)
    if node in step.instances:  # hlist_del
        step.instances.remove(node)
    return 0
