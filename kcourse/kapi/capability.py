"""Capability checks (kernel/capability.c): capable() and the ns_capable family.

Every task here is root in the initial user namespace with the full capability set (the
shell is a root shell, as the lab guest's is), and the guest's LSMs let root through, so
security_capable() is 0 for any valid capability: the check sets PF_SUPERPRIV in
current->flags and is true. A capability above CAP_LAST_CAP (40, CAP_CHECKPOINT_RESTORE) is
pr_crit "capable() called with invalid cap=%u" and BUG(), whose oops is not modelled (one
line). The namespace argument is not looked at: the simulator has only the initial one.
"""

from __future__ import annotations

from kcourse.kapi.registry import function
from kcourse.kernel import structs as S
from kcourse.kernel.kernel import SimulatorLimit
from kcourse.machine import tasks as T

CAP_LAST_CAP = 40  # include/uapi/linux/capability.h
PF_SUPERPRIV = 0x100  # include/linux/sched.h
FLAGS = S.offsetof("task_struct", "flags")


def check(call, cap: int) -> bool:
    """ns_capable_common."""
    if not 0 <= cap <= CAP_LAST_CAP:
        call.kernel.log.printk(f"\0012capable() called with invalid cap={cap & 0xFFFF_FFFF}\n")
        raise SimulatorLimit("kcourse: the kernel BUG()s here (kernel/capability.c: an "
                             "invalid capability); the BUG itself is not modelled")
    space = call.machine.space
    task = space.read_u64(call.machine.percpu + T.CURRENT_TASK)
    flags = int.from_bytes(space.read(task + FLAGS, 4), "little")
    space.write(task + FLAGS, (flags | PF_SUPERPRIV).to_bytes(4, "little"))
    return True


@function("bool capable(int cap)", "kernel/capability.c")
def capable(call, cap):
    return check(call, cap)


@function("bool ns_capable(struct user_namespace *ns, int cap)", "kernel/capability.c")
def ns_capable(call, ns, cap):
    return check(call, cap)


@function("bool ns_capable_noaudit(struct user_namespace *ns, int cap)", "kernel/capability.c")
def ns_capable_noaudit(call, ns, cap):
    return check(call, cap)


@function("bool ns_capable_setid(struct user_namespace *ns, int cap)", "kernel/capability.c")
def ns_capable_setid(call, ns, cap):
    return check(call, cap)
