"""Read-write semaphores: down_read, up_read, down_write, up_write (kernel/locking/rwsem.c),
and pernet_ops_rwsem (net/core/net_namespace.c), which net drivers take around
rtnl_link_register's work.

One task runs kernel code at a time here, so a down_* never has to wait for another task;
taking for writing a semaphore that is held, or for reading one held for writing, would
sleep for ever in the real kernel: it stops with one line instead (the hung task report
is not modelled). The count is kept beside the semaphore, not in its own words.
"""

from __future__ import annotations

from kcourse.kapi.registry import data, function
from kcourse.kapi.vfsfile import limit
from kcourse.kernel import structs as S

WRITER = -1


def _held(machine) -> dict[int, int]:
    return machine.objects.setdefault("rwsem", {})  # address -> readers, or WRITER


def _deadlock(call, sem: int, how: str):
    return limit(f"kcourse: {call.site} takes {call.machine.symbolize(sem) or hex(sem)} for "
                 f"{how} while it is held: this task would sleep for ever (a deadlock)")


@function("void down_read(struct rw_semaphore *sem)", "kernel/locking/rwsem.c")
def down_read(call, sem):
    held = _held(call.machine)
    if held.get(sem, 0) == WRITER:
        raise _deadlock(call, sem, "reading")
    held[sem] = held.get(sem, 0) + 1


@function("void up_read(struct rw_semaphore *sem)", "kernel/locking/rwsem.c")
def up_read(call, sem):
    held = _held(call.machine)
    if held.get(sem, 0) > 0:
        held[sem] -= 1


@function("void down_write(struct rw_semaphore *sem)", "kernel/locking/rwsem.c")
def down_write(call, sem):
    held = _held(call.machine)
    if held.get(sem, 0):
        raise _deadlock(call, sem, "writing")
    held[sem] = WRITER


@function("void up_write(struct rw_semaphore *sem)", "kernel/locking/rwsem.c")
def up_write(call, sem):
    _held(call.machine).pop(sem, None)


@data("struct rw_semaphore pernet_ops_rwsem", "net/core/net_namespace.c",
      S.sizeof("rw_semaphore"))
def pernet_ops_rwsem(machine, address):
    return b""
