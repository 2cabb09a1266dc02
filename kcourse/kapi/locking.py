"""Mutexes, spinlocks and rwlocks on one CPU (kernel/locking/mutex.c, spinlock.c).

struct mutex starts with atomic_long_t owner: the owning task_struct pointer, 0 when free
(include/linux/mutex.h). A mutex another task holds puts the caller to sleep until it is
free (kcourse.machine.scheduler); one the same task already holds would hang it for good.

A spinlock is a qspinlock word (locked byte 1 while held); taking one disables preemption
(the per-CPU preempt count, which inline preempt_count()/in_atomic() read, and the memory
ledger's atomic context), the _irq/_irqsave forms also interrupts, the _bh forms also bottom
halves (SOFTIRQ_DISABLE_OFFSET); the unlocks undo that, and _unlock_bh runs the softirq
work that became pending meanwhile. A rwlock is a qrwlock: readers count in units of
_QR_BIAS, a writer sets _QW_LOCKED. On one CPU a lock that is already held when taken is
never released: the real kernel would spin for good, so that stops with one line.
"""

from __future__ import annotations

from kcourse.kapi.registry import function
from kcourse.kernel import structs as S
from kcourse.kernel.kernel import SimulatorLimit
from kcourse.machine import scheduler, threads

SOFTIRQ_LOCK = scheduler.SOFTIRQ_DISABLE_OFFSET + 1  # SOFTIRQ_LOCK_OFFSET
X86_EFLAGS_IF = 0x200
FLAGS_ON, FLAGS_OFF = 0x246, 0x46  # pushf: IF set (interrupts on) or clear
_QW_LOCKED, _QR_BIAS = 0xFF, 1 << 9  # include/asm-generic/qrwlock.h
MUTEX = {f: S.offsetof("mutex", f) for f in ("owner", "wait_lock", "osq", "wait_list")}


class Deadlock(SimulatorLimit):
    pass


# ------------------------------------------------------------------ mutexes
@function("void __mutex_init(struct mutex *lock, const char *name, "
          "struct lock_class_key *key)", "kernel/locking/mutex.c")
def __mutex_init(call, lock, name, key):
    """owner 0, wait_lock unlocked, osq_lock_init (tail 0, OSQ_UNLOCKED_VAL), wait_list an
    empty list (next = prev = itself); debug_mutex_init is empty without
    CONFIG_DEBUG_MUTEXES (Debian's config)."""
    space = call.machine.space
    space.write_u64(lock + MUTEX["owner"], 0)
    space.write(lock + MUTEX["wait_lock"], bytes(4))
    space.write(lock + MUTEX["osq"], bytes(4))
    head = lock + MUTEX["wait_list"]
    space.write_u64(head, head)
    space.write_u64(head + 8, head)


@function("void mutex_lock(struct mutex *lock)", "kernel/locking/mutex.c")
def mutex_lock(call, lock):
    machine = call.machine
    space = machine.space
    me = threads.current_task(machine)
    owner = space.read_u64(lock) & ~0x7
    if owner == me:
        raise Deadlock(f"kcourse: {call.site} takes a mutex its task already holds: the "
                       "real kernel's task would hang here for good (mutexes do not nest)")
    if owner:
        def take(timed_out: bool) -> int:
            space.write_u64(lock, me)
            return 0
        wait = threads.Wait("mutex_lock", call.site, lambda: space.read_u64(lock) == 0, take)
        scheduler.of(machine).sleep(call, wait)
        return
    space.write_u64(lock, me)


@function("int mutex_lock_interruptible(struct mutex *lock)", "kernel/locking/mutex.c")
def mutex_lock_interruptible(call, lock):
    mutex_lock(call, lock)
    return 0


@function("int mutex_lock_killable(struct mutex *lock)", "kernel/locking/mutex.c")
def mutex_lock_killable(call, lock):
    mutex_lock(call, lock)
    return 0


@function("int mutex_trylock(struct mutex *lock)", "kernel/locking/mutex.c")
def mutex_trylock(call, lock):
    if call.machine.space.read_u64(lock):
        return 0
    call.machine.space.write_u64(lock, threads.current_task(call.machine))
    return 1


@function("void mutex_unlock(struct mutex *lock)", "kernel/locking/mutex.c")
def mutex_unlock(call, lock):
    call.machine.space.write_u64(lock, 0)


@function("bool mutex_is_locked(struct mutex *lock)", "kernel/locking/mutex.c")
def mutex_is_locked(call, lock):
    return int(call.machine.space.read_u64(lock) & ~0x7 != 0)


# ------------------------------------------------------------------ contexts
def _word(call, lock: int) -> int:
    return int.from_bytes(call.machine.space.read(lock, 4), "little")


def _set_word(call, lock: int, value: int) -> None:
    call.machine.space.write(lock, (value & 0xFFFF_FFFF).to_bytes(4, "little"))


def _enter(call, preempt: int, irqs: bool) -> int:
    """Preemption (and bottom halves) off by `preempt`, interrupts off if `irqs`; returns
    the flags local_irq_save() would have saved."""
    sched = scheduler.of(call.machine)
    flags = FLAGS_OFF if sched.irqs_disabled else FLAGS_ON
    if irqs:
        sched.irqs_disabled = True
        _cpu_if(call, sched.irqs_disabled)
    sched.add_preempt(preempt)
    call.kernel.memory.enter_atomic("spin_lock")
    return flags


def _cpu_if(call, disabled: bool) -> None:
    """The CPU's own EFLAGS.IF follows (cli/sti in native_irq_disable/enable), so inline
    native_save_fl() in module code (pushf) reads what local_irq_save() saved."""
    cpu = call.machine.cpu
    eflags = cpu.reg("eflags")
    cpu.set_reg("eflags", eflags & ~X86_EFLAGS_IF if disabled else eflags | X86_EFLAGS_IF)


def _leave(call, preempt: int, irqs: bool | None = None) -> None:
    """The unlock side: interrupts back on (True), as saved (None: unchanged), then the
    preempt count down, running pending softirq work when bottom halves come back."""
    sched = scheduler.of(call.machine)
    if irqs is not None:
        sched.irqs_disabled = not irqs
        _cpu_if(call, sched.irqs_disabled)
    call.kernel.memory.exit_atomic()
    if preempt == SOFTIRQ_LOCK:  # __local_bh_enable_ip: softirqs run with preemption off
        sched.add_preempt(-(preempt - 1))
        if not sched.in_interrupt():
            sched.run_softirqs()
        sched.add_preempt(-1)
        return
    sched.add_preempt(-preempt)


def _held(call, what: str) -> None:
    pid, comm = call.kernel.current
    raise Deadlock(f"kcourse: {call.site} takes a {what} that is already held (by this or an "
                   f"interrupted context: {comm} pid {pid} runs now): on one CPU nothing can "
                   "release it, so the real kernel would spin here for good (the soft-lockup "
                   "watchdog reports it after about 20 s)")


def _spin_lock(call, lock: int, preempt: int, irqs: bool) -> int:
    if _word(call, lock) & 0xFF:
        _held(call, "spinlock")
    flags = _enter(call, preempt, irqs)
    _set_word(call, lock, _word(call, lock) | 1)
    return flags


def _spin_unlock(call, lock: int, preempt: int, irqs: bool | None = None) -> None:
    _set_word(call, lock, _word(call, lock) & ~0xFF)
    _leave(call, preempt, irqs)


@function("void _raw_spin_lock(raw_spinlock_t *lock)", "kernel/locking/spinlock.c")
def _raw_spin_lock(call, lock):
    _spin_lock(call, lock, 1, False)


@function("void _raw_spin_lock_irq(raw_spinlock_t *lock)", "kernel/locking/spinlock.c")
def _raw_spin_lock_irq(call, lock):
    _spin_lock(call, lock, 1, True)


@function("unsigned long _raw_spin_lock_irqsave(raw_spinlock_t *lock)",
          "kernel/locking/spinlock.c")
def _raw_spin_lock_irqsave(call, lock):
    return _spin_lock(call, lock, 1, True)


@function("void _raw_spin_lock_bh(raw_spinlock_t *lock)", "kernel/locking/spinlock.c")
def _raw_spin_lock_bh(call, lock):
    _spin_lock(call, lock, SOFTIRQ_LOCK, False)


@function("int _raw_spin_trylock(raw_spinlock_t *lock)", "kernel/locking/spinlock.c")
def _raw_spin_trylock(call, lock):
    if _word(call, lock) & 0xFF:
        return 0
    _spin_lock(call, lock, 1, False)
    return 1


@function("int _raw_spin_trylock_bh(raw_spinlock_t *lock)", "kernel/locking/spinlock.c")
def _raw_spin_trylock_bh(call, lock):
    if _word(call, lock) & 0xFF:
        return 0
    _spin_lock(call, lock, SOFTIRQ_LOCK, False)
    return 1


@function("void _raw_spin_unlock(raw_spinlock_t *lock)", "kernel/locking/spinlock.c")
def _raw_spin_unlock(call, lock):
    _spin_unlock(call, lock, 1)


@function("void _raw_spin_unlock_irq(raw_spinlock_t *lock)", "kernel/locking/spinlock.c")
def _raw_spin_unlock_irq(call, lock):
    _spin_unlock(call, lock, 1, True)


@function("void _raw_spin_unlock_irqrestore(raw_spinlock_t *lock, unsigned long flags)",
          "kernel/locking/spinlock.c")
def _raw_spin_unlock_irqrestore(call, lock, flags):
    _spin_unlock(call, lock, 1, bool(flags & X86_EFLAGS_IF))


@function("void _raw_spin_unlock_bh(raw_spinlock_t *lock)", "kernel/locking/spinlock.c")
def _raw_spin_unlock_bh(call, lock):
    _spin_unlock(call, lock, SOFTIRQ_LOCK)


# ------------------------------------------------------------------ rwlocks
def _read_lock(call, lock: int, preempt: int, irqs: bool) -> int:
    if _word(call, lock) & _QW_LOCKED:
        _held(call, "rwlock for reading whose write side")
    flags = _enter(call, preempt, irqs)
    _set_word(call, lock, _word(call, lock) + _QR_BIAS)
    return flags


def _write_lock(call, lock: int, preempt: int, irqs: bool) -> int:
    if _word(call, lock):
        _held(call, "rwlock for writing that")
    flags = _enter(call, preempt, irqs)
    _set_word(call, lock, _QW_LOCKED)
    return flags


def _read_unlock(call, lock: int, preempt: int, irqs: bool | None = None) -> None:
    _set_word(call, lock, max(0, _word(call, lock) - _QR_BIAS))
    _leave(call, preempt, irqs)


def _write_unlock(call, lock: int, preempt: int, irqs: bool | None = None) -> None:
    _set_word(call, lock, _word(call, lock) & ~0xFF)
    _leave(call, preempt, irqs)


for _kind, _take, _drop in (("read", _read_lock, _read_unlock),
                            ("write", _write_lock, _write_unlock)):
    def _define(kind=_kind, take=_take, drop=_drop):
        source = "kernel/locking/spinlock.c"
        function(f"void _raw_{kind}_lock(rwlock_t *lock)", source)(
            lambda call, lock: take(call, lock, 1, False))
        function(f"void _raw_{kind}_lock_irq(rwlock_t *lock)", source)(
            lambda call, lock: take(call, lock, 1, True))
        function(f"unsigned long _raw_{kind}_lock_irqsave(rwlock_t *lock)", source)(
            lambda call, lock: take(call, lock, 1, True))
        function(f"void _raw_{kind}_lock_bh(rwlock_t *lock)", source)(
            lambda call, lock: take(call, lock, SOFTIRQ_LOCK, False))
        function(f"void _raw_{kind}_unlock(rwlock_t *lock)", source)(
            lambda call, lock: drop(call, lock, 1))
        function(f"void _raw_{kind}_unlock_irq(rwlock_t *lock)", source)(
            lambda call, lock: drop(call, lock, 1, True))
        function(f"void _raw_{kind}_unlock_irqrestore(rwlock_t *lock, unsigned long flags)",
                 source)(lambda call, lock, flags: drop(call, lock, 1,
                                                       bool(flags & X86_EFLAGS_IF)))
        function(f"void _raw_{kind}_unlock_bh(rwlock_t *lock)", source)(
            lambda call, lock: drop(call, lock, SOFTIRQ_LOCK))

        def trylock(call, lock):
            busy = _word(call, lock) & _QW_LOCKED if kind == "read" else _word(call, lock)
            if busy:
                return 0
            take(call, lock, 1, False)
            return 1
        function(f"int _raw_{kind}_trylock(rwlock_t *lock)", source)(trylock)
    _define()
