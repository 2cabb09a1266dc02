"""The module's references and the scheduler's entry points (kernel/module/main.c,
kernel/sched/core.c).

schedule() gives the CPU away until the task is TASK_RUNNING again (someone called
wake_up_process or a wait queue's wake function on it); with the task still TASK_RUNNING it
only lets what is runnable run (kcourse.machine.scheduler has the rules). The voluntary
preemption points (might_resched(), cond_resched(): static calls in 6.1 with
PREEMPT_DYNAMIC) reschedule nothing: a woken thread runs at the task's next sleep or return
to user space. Time, delays and sleeps: kcourse.kapi.timekeeping and kcourse.kapi.delay.
"""

from __future__ import annotations

from kcourse.kapi.registry import function
from kcourse.machine import processes, scheduler, threads


def module_of(call, address: int):
    """The Module whose struct module (its .gnu.linkonce.this_module) sits at `address`."""
    for code in call.machine.codes:
        if code.this_module and code.this_module == address:
            return code.module
    return None


@function("int module_refcount(struct module *mod)", "kernel/module/main.c")
def module_refcount(call, mod):
    module = module_of(call, mod)
    return module.module_refcount() if module is not None else 0


@function("bool try_module_get(struct module *module)", "kernel/module/main.c")
def try_module_get(call, module):
    if module == 0:
        return 1  # a NULL module is the kernel itself: always there
    mod = module_of(call, module)
    return int(mod is not None and call.kernel.try_module_get(mod, why="try_module_get"))


@function("void module_put(struct module *module)", "kernel/module/main.c")
def module_put(call, module):
    mod = module_of(call, module)
    if mod is not None:
        call.kernel.module_put(mod, why="module_put")


@function("void schedule(void)", "kernel/sched/core.c")
def schedule(call):
    machine = call.machine
    task = threads.current_task(machine)
    sched = scheduler.of(machine)
    state = threads.read_state(machine, task)
    if state and processes.signal_pending_state(machine, state, task):
        threads.write_state(machine, task, threads.TASK_RUNNING)  # __schedule: no sleep
        state = threads.TASK_RUNNING
    if state == threads.TASK_RUNNING and sched.current is None:
        sched.check_atomic_sleep(call, [])
        sched.settle(until=sched.clock.usec)  # a yield: what is runnable runs first
        return
    wait = threads.Wait("schedule", call.site,
                        lambda: threads.read_state(machine, task) == threads.TASK_RUNNING,
                        lambda timed_out: 0)
    sched.sleep(call, wait)


@function("int wake_up_process(struct task_struct *p)", "kernel/sched/core.c")
def wake_up_process(call, p):
    return int(scheduler.of(call.machine).try_to_wake_up(p, threads.TASK_NORMAL))


@function("int wake_up_state(struct task_struct *p, unsigned int state)",
          "kernel/sched/core.c")
def wake_up_state(call, p, state):
    return int(scheduler.of(call.machine).try_to_wake_up(p, state))


@function("int __SCT__might_resched(void)", "kernel/sched/core.c")
def __SCT__might_resched(call):
    """might_sleep()'s might_resched() (the static call is __cond_resched with
    PREEMPT_VOLUNTARY): nothing needs the CPU more, so no reschedule."""
    return 0


@function("int __SCT__cond_resched(void)", "kernel/sched/core.c")
def __SCT__cond_resched(call):
    return 0


@function("int __cond_resched(void)", "kernel/sched/core.c")
def __cond_resched(call):
    return 0


@function("void preempt_schedule_thunk(void)", "arch/x86/entry/thunk_64.S")
def preempt_schedule_thunk(call):
    """preempt_enable() reaching 0 with a reschedule pending: with PREEMPT_VOLUNTARY the
    dynamic preempt_schedule is off (a no-op), so the task goes on."""


@function("void preempt_schedule_notrace_thunk(void)", "arch/x86/entry/thunk_64.S")
def preempt_schedule_notrace_thunk(call):
    pass


@function("void __SCT__preempt_schedule(void)", "kernel/sched/core.c")
def __SCT__preempt_schedule(call):
    """The static call preempt_enable() makes when the count reaches 0 with a reschedule
    pending (PREEMPT_DYNAMIC): the guest runs in voluntary mode (its
    /sys/kernel/debug/sched/preempt: "none (voluntary) full"), where
    preempt_dynamic_disable(preempt_schedule) set it to NULL, a bare RET."""


@function("void __SCT__preempt_schedule_notrace(void)", "kernel/sched/core.c")
def __SCT__preempt_schedule_notrace(call):
    """preempt_enable_notrace()'s: NULL in voluntary mode too."""
