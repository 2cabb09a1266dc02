"""Kernel threads (kernel/kthread.c).

kthread_create_on_node() makes a thread that sleeps until woken (kthread_create(); then
wake_up_process(), or kthread_run() which is both); it runs its function on its own stack
(kcourse.machine.threads) when the scheduler gives it the CPU, until the function returns or
the thread calls kthread_complete_and_exit(). kthread_stop() sets the thread's stop flag,
wakes it and sleeps until it has ended, returning what its function returned; a thread
stopped before it ever ran never runs its function and ends with -EINTR (kthread()).
kthread_should_stop() is the flag.
"""

from __future__ import annotations

from dataclasses import dataclass

from kcourse.kapi import printk
from kcourse.kapi.abi import to_c
from kcourse.kapi.registry import function
from kcourse.kernel.kernel import SimulatorLimit
from kcourse.machine import scheduler, threads

EINTR = 4
TASK_COMM_LEN = 16


@dataclass
class KThread:
    thread: threads.Thread
    fn: int
    data: int
    should_stop: bool = False
    started: bool = False
    result: int = 0


def kthreads(machine) -> dict[int, KThread]:
    return machine.objects.setdefault("kthreads", {})


def _next_run(record: KThread):
    def next_run(rax):
        if rax is None and not record.started:
            record.started = True
            if record.should_stop:  # kthread(): stopped before threadfn ran
                record.result = -EINTR
                return None
            return record.fn, record.data
        if rax is not None:
            record.result = to_c(rax, 32, True)
        return None
    return next_run


@function("struct task_struct *kthread_create_on_node(int (*threadfn)(void *data), void *data, "
          "int node, const char namefmt[], ...)", "kernel/kthread.c")
def kthread_create_on_node(call, threadfn, data, node, namefmt):
    name = bytes(printk.format_call(call, namefmt, TASK_COMM_LEN - 1))
    thread = scheduler.of(call.machine).new_thread(name.decode("utf-8", "replace"))
    record = KThread(thread, threadfn, data)
    thread.next_run = _next_run(record)
    kthreads(call.machine)[thread.task] = record
    return thread.task


def _record(call, task: int, what: str) -> KThread:
    record = kthreads(call.machine).get(task)
    if record is None:
        raise SimulatorLimit(f"kcourse: {call.site} calls {what}() on {task:#x}, which is not a "
                             "kernel thread kthread_create made: the real kernel would WARN "
                             "and use a NULL struct kthread")
    return record


@function("int kthread_stop(struct task_struct *k)", "kernel/kthread.c")
def kthread_stop(call, k):
    record = _record(call, k, "kthread_stop")
    sched = scheduler.of(call.machine)
    record.should_stop = True
    sched.try_to_wake_up(k, threads.TASK_NORMAL)
    if record.thread.state != "dead":
        wait = threads.Wait("kthread_stop", call.site,
                            lambda: record.thread.state == "dead", lambda timed_out: 0)
        sched.sleep(call, wait)
    return record.result


@function("bool kthread_should_stop(void)", "kernel/kthread.c")
def kthread_should_stop(call):
    task = threads.current_task(call.machine)
    return int(_record(call, task, "kthread_should_stop").should_stop)


@function("void kthread_complete_and_exit(struct completion *comp, long code)",
          "kernel/kthread.c")
def kthread_complete_and_exit(call, comp, code):
    sched = scheduler.of(call.machine)
    thread = sched.current
    if thread is None or thread.task not in kthreads(call.machine):
        raise SimulatorLimit(f"kcourse: {call.site} calls kthread_complete_and_exit() outside "
                             "a kernel thread: the real kernel would end the calling task")
    threads.blocked_here(call.machine, thread, "kthread_complete_and_exit", call.site)
    if comp:
        from kcourse.kapi import completion

        completion.complete(call, comp)
    raise threads.ThreadExit(to_c(code, 32, True))


@function("void kthread_bind(struct task_struct *p, unsigned int cpu)", "kernel/kthread.c")
def kthread_bind(call, p, cpu):
    _record(call, p, "kthread_bind")
    if cpu != 0:
        raise SimulatorLimit(f"kcourse: {call.site} binds a kernel thread to CPU {cpu}; the "
                             "machine has one CPU (0), as the lab's guest")


@function("void *kthread_data(struct task_struct *task)", "kernel/kthread.c")
def kthread_data(call, task):
    return _record(call, task, "kthread_data").data


@function("void *kthread_func(struct task_struct *task)", "kernel/kthread.c")
def kthread_func(call, task):
    record = kthreads(call.machine).get(task)
    return record.fn if record is not None else 0
