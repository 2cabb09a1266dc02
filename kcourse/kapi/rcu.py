"""The read side of preemptible RCU (kernel/rcu/tree_plugin.h): Debian's 6.1 has
CONFIG_PREEMPT_DYNAMIC=y, so CONFIG_PREEMPT_RCU=y, and rcu_read_lock() calls
__rcu_read_lock, which counts the nesting in current->rcu_read_lock_nesting (what the inline
rcu_preempt_depth() reads); __rcu_read_unlock counts it down. CONFIG_PROVE_LOCKING is off, so
neither checks the depth.

Not modelled: rcu_read_unlock_special (nothing here preempts a reader or asks it for a
quiescent state, so its .s stays 0), and the "Voluntary context switch within RCU read-side
critical section!" WARN_ONCE of rcu_note_context_switch when a reader sleeps.
"""

from __future__ import annotations

from kcourse.kapi.registry import function
from kcourse.kernel import structs as S
from kcourse.machine import tasks as T

NESTING = S.offsetof("task_struct", "rcu_read_lock_nesting")


def _task(machine) -> int:
    """current: the running CPU's per-cpu current_task."""
    return machine.space.read_u64(machine.percpu + T.CURRENT_TASK)


def depth(machine) -> int:
    raw = int.from_bytes(machine.space.read(_task(machine) + NESTING, 4), "little")
    return raw - (1 << 32) if raw & 0x8000_0000 else raw


def _set(machine, value: int) -> None:
    machine.space.write(_task(machine) + NESTING, (value & 0xFFFF_FFFF).to_bytes(4, "little"))


@function("void __rcu_read_lock(void)", "kernel/rcu/tree_plugin.h")
def __rcu_read_lock(call):
    _set(call.machine, depth(call.machine) + 1)  # rcu_preempt_read_enter


@function("void __rcu_read_unlock(void)", "kernel/rcu/tree_plugin.h")
def __rcu_read_unlock(call):
    _set(call.machine, depth(call.machine) - 1)  # rcu_preempt_read_exit
