"""Wait queues (kernel/sched/wait.c) and the wake-up functions (kernel/sched/core.c).

The queue is the kernel's own doubly linked list in the module's memory (struct
wait_queue_head, struct wait_queue_entry), so inline code that looks at it
(waitqueue_active(), list_empty()) sees what the kernel would. wait_event*() are macros:
the module's own code loops on prepare_to_wait_event(), its condition and schedule()
(kcourse.kapi.sched), then finish_wait(). __wake_up() walks the list calling each entry's
func (autoremove_wake_function for DEFINE_WAIT and init_wait_entry; a module's own
function runs as its code), which wakes the entry's task: TASK_RUNNING again, so its
schedule() returns. A signal reaches only a background job's process (`kill %1`:
kcourse.machine.processes); prepare_to_wait_event then ends an interruptible wait with
-ERESTARTSYS, as kernel/sched/wait.c does when signal_pending_state() holds.
"""

from __future__ import annotations

from kcourse.kapi.abi import to_c
from kcourse.kapi.registry import function
from kcourse.kernel import structs
from kcourse.machine import processes, scheduler, threads

HEAD = structs.offsetof("wait_queue_head", "head")
ENTRY_FLAGS = structs.offsetof("wait_queue_entry", "flags")
ENTRY_PRIVATE = structs.offsetof("wait_queue_entry", "private")
ENTRY_FUNC = structs.offsetof("wait_queue_entry", "func")
ENTRY_LIST = structs.offsetof("wait_queue_entry", "entry")
LIST_NEXT = structs.offsetof("list_head", "next")
LIST_PREV = structs.offsetof("list_head", "prev")
WQ_FLAG_EXCLUSIVE, WQ_FLAG_WOKEN, WQ_FLAG_BOOKMARK, WQ_FLAG_PRIORITY = 0x01, 0x02, 0x04, 0x20
ERESTARTSYS = 512  # include/linux/errno.h


# ------------------------------------------------------------------ include/linux/list.h
def list_init(space, node: int) -> None:
    space.write_u64(node + LIST_NEXT, node)
    space.write_u64(node + LIST_PREV, node)


def list_empty(space, node: int) -> bool:
    return space.read_u64(node + LIST_NEXT) == node


def _link(space, new: int, prev: int, nxt: int) -> None:
    space.write_u64(nxt + LIST_PREV, new)
    space.write_u64(new + LIST_NEXT, nxt)
    space.write_u64(new + LIST_PREV, prev)
    space.write_u64(prev + LIST_NEXT, new)


def list_add(space, new: int, head: int) -> None:
    _link(space, new, head, space.read_u64(head + LIST_NEXT))


def list_add_tail(space, new: int, head: int) -> None:
    _link(space, new, space.read_u64(head + LIST_PREV), head)


def list_del_init(space, node: int) -> None:
    prev, nxt = space.read_u64(node + LIST_PREV), space.read_u64(node + LIST_NEXT)
    space.write_u64(nxt + LIST_PREV, prev)
    space.write_u64(prev + LIST_NEXT, nxt)
    list_init(space, node)


def _flags(space, entry: int) -> int:
    return int.from_bytes(space.read(entry + ENTRY_FLAGS, 4), "little")


def _set_flags(space, entry: int, flags: int) -> None:
    space.write(entry + ENTRY_FLAGS, (flags & 0xFFFF_FFFF).to_bytes(4, "little"))


def _add(space, head: int, entry: int) -> None:
    """__add_wait_queue: at the front, after any WQ_FLAG_PRIORITY entries."""
    queue = head + HEAD
    at = queue
    node = space.read_u64(queue + LIST_NEXT)
    while node != queue and _flags(space, node - ENTRY_LIST) & WQ_FLAG_PRIORITY:
        at, node = node, space.read_u64(node + LIST_NEXT)
    list_add(space, entry + ENTRY_LIST, at)


# ------------------------------------------------------------------ the API
@function("void __init_waitqueue_head(struct wait_queue_head *wq_head, const char *name, "
          "struct lock_class_key *key)", "kernel/sched/wait.c")
def __init_waitqueue_head(call, wq_head, name, key):
    space = call.machine.space
    space.write(wq_head, bytes(4))  # the spinlock
    list_init(space, wq_head + HEAD)


@function("void init_wait_entry(struct wait_queue_entry *wq_entry, int flags)",
          "kernel/sched/wait.c")
def init_wait_entry(call, wq_entry, flags):
    space = call.machine.space
    _set_flags(space, wq_entry, flags)
    space.write_u64(wq_entry + ENTRY_PRIVATE, threads.current_task(call.machine))
    space.write_u64(wq_entry + ENTRY_FUNC, call.machine.address_of("autoremove_wake_function"))
    list_init(space, wq_entry + ENTRY_LIST)


@function("long prepare_to_wait_event(struct wait_queue_head *wq_head, "
          "struct wait_queue_entry *wq_entry, int state)", "kernel/sched/wait.c")
def prepare_to_wait_event(call, wq_head, wq_entry, state):
    space = call.machine.space
    if processes.signal_pending_state(call.machine, state, threads.current_task(call.machine)):
        list_del_init(space, wq_entry + ENTRY_LIST)  # a signal ends the wait: -ERESTARTSYS
        return -ERESTARTSYS
    if list_empty(space, wq_entry + ENTRY_LIST):
        if _flags(space, wq_entry) & WQ_FLAG_EXCLUSIVE:
            list_add_tail(space, wq_entry + ENTRY_LIST, wq_head + HEAD)
        else:
            _add(space, wq_head, wq_entry)
    threads.write_state(call.machine, threads.current_task(call.machine), state)
    return 0


@function("void prepare_to_wait(struct wait_queue_head *wq_head, "
          "struct wait_queue_entry *wq_entry, int state)", "kernel/sched/wait.c")
def prepare_to_wait(call, wq_head, wq_entry, state):
    space = call.machine.space
    _set_flags(space, wq_entry, _flags(space, wq_entry) & ~WQ_FLAG_EXCLUSIVE)
    if list_empty(space, wq_entry + ENTRY_LIST):
        _add(space, wq_head, wq_entry)
    threads.write_state(call.machine, threads.current_task(call.machine), state)


@function("bool prepare_to_wait_exclusive(struct wait_queue_head *wq_head, "
          "struct wait_queue_entry *wq_entry, int state)", "kernel/sched/wait.c")
def prepare_to_wait_exclusive(call, wq_head, wq_entry, state):
    space = call.machine.space
    _set_flags(space, wq_entry, _flags(space, wq_entry) | WQ_FLAG_EXCLUSIVE)
    was_empty = list_empty(space, wq_head + HEAD)
    if list_empty(space, wq_entry + ENTRY_LIST):
        list_add_tail(space, wq_entry + ENTRY_LIST, wq_head + HEAD)
    threads.write_state(call.machine, threads.current_task(call.machine), state)
    return int(was_empty)


@function("void finish_wait(struct wait_queue_head *wq_head, struct wait_queue_entry *wq_entry)",
          "kernel/sched/wait.c")
def finish_wait(call, wq_head, wq_entry):
    space = call.machine.space
    threads.write_state(call.machine, threads.current_task(call.machine), threads.TASK_RUNNING)
    if not list_empty(space, wq_entry + ENTRY_LIST):
        list_del_init(space, wq_entry + ENTRY_LIST)


@function("void add_wait_queue(struct wait_queue_head *wq_head, "
          "struct wait_queue_entry *wq_entry)", "kernel/sched/wait.c")
def add_wait_queue(call, wq_head, wq_entry):
    space = call.machine.space
    _set_flags(space, wq_entry, _flags(space, wq_entry) & ~WQ_FLAG_EXCLUSIVE)
    _add(space, wq_head, wq_entry)


@function("void add_wait_queue_exclusive(struct wait_queue_head *wq_head, "
          "struct wait_queue_entry *wq_entry)", "kernel/sched/wait.c")
def add_wait_queue_exclusive(call, wq_head, wq_entry):
    space = call.machine.space
    _set_flags(space, wq_entry, _flags(space, wq_entry) | WQ_FLAG_EXCLUSIVE)
    list_add_tail(space, wq_entry + ENTRY_LIST, wq_head + HEAD)


@function("void remove_wait_queue(struct wait_queue_head *wq_head, "
          "struct wait_queue_entry *wq_entry)", "kernel/sched/wait.c")
def remove_wait_queue(call, wq_head, wq_entry):
    list_del_init(call.machine.space, wq_entry + ENTRY_LIST)


def wake_up_common(call, wq_head: int, mode: int, nr_exclusive: int, key: int) -> int:
    """__wake_up_common: each entry's func until nr_exclusive exclusive waiters woke;
    returns how many exclusive ones did."""
    machine = call.machine
    space = machine.space
    queue = wq_head + HEAD
    remaining = nr_exclusive
    node = space.read_u64(queue + LIST_NEXT)
    while node != queue:
        following = space.read_u64(node + LIST_NEXT)
        entry = node - ENTRY_LIST
        flags = _flags(space, entry)
        if not flags & WQ_FLAG_BOOKMARK:
            func = space.read_u64(entry + ENTRY_FUNC)
            ret = to_c(machine.call(func, entry, mode, 0, key), 32, True)
            if ret < 0:
                break
            if ret and flags & WQ_FLAG_EXCLUSIVE:
                remaining -= 1
                if remaining == 0:
                    break
        node = following
    return nr_exclusive - remaining


@function("int __wake_up(struct wait_queue_head *wq_head, unsigned int mode, int nr_exclusive, "
          "void *key)", "kernel/sched/wait.c")
def __wake_up(call, wq_head, mode, nr_exclusive, key):
    return wake_up_common(call, wq_head, mode, nr_exclusive, key)


@function("void __wake_up_sync(struct wait_queue_head *wq_head, unsigned int mode)",
          "kernel/sched/wait.c")
def __wake_up_sync(call, wq_head, mode):
    wake_up_common(call, wq_head, mode, 1, 0)


@function("void __wake_up_sync_key(struct wait_queue_head *wq_head, unsigned int mode, "
          "void *key)", "kernel/sched/wait.c")
def __wake_up_sync_key(call, wq_head, mode, key):
    wake_up_common(call, wq_head, mode, 1, key)


@function("void __wake_up_locked(struct wait_queue_head *wq_head, unsigned int mode, int nr)",
          "kernel/sched/wait.c")
def __wake_up_locked(call, wq_head, mode, nr):
    wake_up_common(call, wq_head, mode, nr, 0)


@function("void __wake_up_locked_key(struct wait_queue_head *wq_head, unsigned int mode, "
          "void *key)", "kernel/sched/wait.c")
def __wake_up_locked_key(call, wq_head, mode, key):
    wake_up_common(call, wq_head, mode, 1, key)


@function("int default_wake_function(struct wait_queue_entry *curr, unsigned int mode, "
          "int wake_flags, void *key)", "kernel/sched/core.c")
def default_wake_function(call, curr, mode, wake_flags, key):
    task = call.machine.space.read_u64(curr + ENTRY_PRIVATE)
    return int(scheduler.of(call.machine).try_to_wake_up(task, mode))


@function("int autoremove_wake_function(struct wait_queue_entry *wq_entry, unsigned int mode, "
          "int sync, void *key)", "kernel/sched/wait.c")
def autoremove_wake_function(call, wq_entry, mode, sync, key):
    ret = default_wake_function(call, wq_entry, mode, sync, key)
    if ret:
        list_del_init(call.machine.space, wq_entry + ENTRY_LIST)
    return ret


@function("int woken_wake_function(struct wait_queue_entry *wq_entry, unsigned int mode, "
          "int sync, void *key)", "kernel/sched/wait.c")
def woken_wake_function(call, wq_entry, mode, sync, key):
    space = call.machine.space
    _set_flags(space, wq_entry, _flags(space, wq_entry) | WQ_FLAG_WOKEN)
    return default_wake_function(call, wq_entry, mode, sync, key)
