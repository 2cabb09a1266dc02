"""Mutexes and spinlocks on one CPU (kernel/locking/mutex.c, spinlock.c).

struct mutex starts with atomic_long_t owner: the owning task_struct pointer, 0 when free
(include/linux/mutex.h). With one CPU and one task at a time a lock is always free when
taken; taking a mutex the same task already holds would hang it for good on the real kernel.
"""

from __future__ import annotations

from kcourse.kapi.registry import function
from kcourse.kernel.kernel import SimulatorLimit


class Deadlock(SimulatorLimit):
    pass


@function("void mutex_lock(struct mutex *lock)", "kernel/locking/mutex.c")
def mutex_lock(call, lock):
    space = call.machine.space
    owner = space.read_u64(lock)
    me = call.machine.current_task()
    if owner & ~0x7 == me:
        raise Deadlock(f"kcourse: {call.site} takes a mutex its task already holds: the "
                       "real kernel's task would hang here for good (mutexes do not nest)")
    space.write_u64(lock, me)


@function("int mutex_lock_interruptible(struct mutex *lock)", "kernel/locking/mutex.c")
def mutex_lock_interruptible(call, lock):
    mutex_lock(call, lock)
    return 0


@function("int mutex_trylock(struct mutex *lock)", "kernel/locking/mutex.c")
def mutex_trylock(call, lock):
    if call.machine.space.read_u64(lock):
        return 0
    call.machine.space.write_u64(lock, call.machine.current_task())
    return 1


@function("void mutex_unlock(struct mutex *lock)", "kernel/locking/mutex.c")
def mutex_unlock(call, lock):
    call.machine.space.write_u64(lock, 0)
