"""What 6.1 prints when module code breaks the scheduler's and the timers' rules.

- "BUG: scheduling while atomic: comm/pid/0x%08x" (kernel/sched/core.c __schedule_bug, from
  schedule_debug when __schedule() finds more than its own preempt_disable()): the line,
  print_modules(), dump_stack(); then TAINT_WARN. Execution goes on.
- "timer: %pS preempt leak: %08x -> %08x" (kernel/time/timer.c call_timer_fn, a WARN_ONCE):
  a timer callback returned with another preempt count than it was called with.
- "initcall %pS returned with preemption imbalance " (init/main.c do_one_initcall, a WARN;
  "disabled interrupts " when it returns with them off).
- "note: comm[pid] exited with irqs disabled" (kernel/exit.c do_exit), after the oops that
  killed a task.

The kernel's own frames, the WARN sites and their `Code:` bytes are those Debian's
6.1.0-56-amd64 printed under QEMU (tests/data/sched/*.real, scripts/record_sched_real.py);
unreliable frames (`? ...`) are left out. Register values of kernel code are a model.
"""

from __future__ import annotations

import random

from kcourse.kernel import oops

IRQ_EXIT = ["handle_softirqs+0xd7/0x280", "__irq_exit_rcu+0xac/0xe0",
            "sysvec_apic_timer_interrupt+0x3a/0x90", "asm_sysvec_apic_timer_interrupt+0x16/0x20"]
TASKLET_ACTION = "tasklet_action_common.constprop.0+0xc7/0x240"
WORKER_THREAD = ["worker_thread+0x4d/0x380", "kthread+0xda/0x100", "ret_from_fork+0x22/0x30"]
SCHEDULE = ["dump_stack_lvl+0x44/0x5c", "__schedule_bug.cold+0x42/0x4e",
            "__schedule+0x804/0xa00", "schedule+0x5a/0xd0"]
TAILS = {
    "finit_module": ["do_one_initcall+0x59/0x220", "do_init_module+0x4a/0x1f0",
                     "__do_sys_finit_module+0xac/0x120", "do_syscall_64+0x5d/0xb0",
                     "entry_SYSCALL_64_after_hwframe+0x6e/0xd8"],
    "kthread": ["kthread+0xda/0x100", "ret_from_fork+0x22/0x30"],
    "timer": ["call_timer_fn+0x27/0x130", "__run_timers+0x222/0x2c0",
              "run_timer_softirq+0x19/0x30"] + IRQ_EXIT,
    "timer-wheel": ["run_timer_softirq+0x19/0x30"] + IRQ_EXIT,
    "tasklet": [TASKLET_ACTION] + IRQ_EXIT,
    "ksoftirqd-tasklet": [TASKLET_ACTION, "handle_softirqs+0xd7/0x280",
                          "run_ksoftirqd+0x2d/0x40", "smpboot_thread_fn+0xd8/0x1d0",
                          "kthread+0xda/0x100", "ret_from_fork+0x22/0x30"],
    "kworker": ["process_one_work+0x1c7/0x380"] + WORKER_THREAD,
    "delete_module": ["__do_sys_delete_module+0x1b9/0x330", "do_syscall_64+0x5d/0xb0",
                      "entry_SYSCALL_64_after_hwframe+0x6e/0xd8"],
}
# What the kernel itself sleeps in after a module's exit (free_module: synchronize_rcu)
DELETE_MODULE_SLEEPS = ["schedule_timeout+0x11a/0x150", "__wait_for_common+0x94/0x1e0",
                        "__wait_rcu_gp+0x12b/0x140", "synchronize_rcu+0x71/0xb0",
                        "ftrace_release_mod+0x15a/0x2a0", "__do_sys_delete_module+0x1e1/0x330"]
# The frames between schedule() and the module's call of each sleeping function
SLEEPS = {
    "msleep": ["schedule_timeout+0x94/0x150", "msleep+0x29/0x40"],
    "schedule_timeout": ["schedule_timeout+0x94/0x150"],  # the _interruptible etc. tail-call
    "schedule_timeout_forever": ["schedule_timeout+0x11a/0x150"],
    "wait_for_completion": ["schedule_timeout+0x94/0x150", "__wait_for_common+0x94/0x1e0"],
    "wait_for_completion_forever": ["schedule_timeout+0x11a/0x150",
                                    "__wait_for_common+0x94/0x1e0"],
    "usleep_range_state": ["schedule_hrtimeout_range_clock+0xd7/0x120",
                           "usleep_range_state+0x60/0x90"],
}
IDLE_WORKER = ["worker_thread+0xaf/0x380", "kthread+0xda/0x100", "ret_from_fork+0x22/0x30"]
TIMER_LEAK_SITE = ("kernel/time/timer.c:1707", "call_timer_fn+0x120/0x130",
                   "Code: ec 7e 0f 85 2e ff ff ff 0f 1f 44 00 00 e9 24 ff ff ff 89 da 4c 89 e6 "
                   "48 c7 c7 48 a2 35 82 c6 05 fd 30 ab 01 01 e8 80 dc f4 ff <0f> 0b e9 23 ff "
                   "ff ff 66 0f 1f 84 00 00 00 00 00 41 57 b9 09 00 00")
INITCALL_SITE = ("init/main.c:1284", "do_one_initcall+0x1d7/0x220",
                 "Code: c6 03 e5 32 82 4c 89 e7 e8 86 a9 9e 00 fb 0f 1f 44 00 00 e9 c0 fe ff ff "
                 "4c 89 e2 48 89 de 48 c7 c7 08 e9 32 82 e8 09 f4 09 00 <0f> 0b e9 b1 fe ff ff "
                 "bd ff ff ff ff e9 b0 fe ff ff e8 a3 60 a4 00")


def tail(context: str) -> list[str]:
    """The kernel's frames below the module's code in `context` (a syscall name, "kthread",
    "timer"); [] where no recording says (the trace then ends at the module's frame)."""
    return list(TAILS.get(context, []))


def dump_stack(machine: oops.Machine, pid: int, comm: str, frames: list[str],
               workqueue: str = "") -> list[tuple[int, str]]:
    """lib/dump_stack.c: who, where, and (in a kworker) which work (print_worker_info)."""
    lines = [(oops.KERN_DEFAULT, machine.cpu_line(pid, comm)),
             (oops.KERN_DEFAULT, f"Hardware name: {machine.hardware}")]
    if workqueue:
        lines.append((oops.KERN_DEFAULT, f"Workqueue: {workqueue}"))
    return lines + oops.call_trace(frames)


def scheduling_while_atomic(machine: oops.Machine, pid: int, comm: str, count: int,
                            frames: list[str], below: list[str],
                            workqueue: str = "") -> list[tuple[int, str]]:
    lines = [(oops.KERN_ERR, f"BUG: scheduling while atomic: {comm[:15]}/{pid}/0x{count:08x}"),
             (oops.KERN_DEFAULT, machine.modules_line())]
    return lines + dump_stack(machine, pid, comm, SCHEDULE + frames + below, workqueue)


def warning(machine: oops.Machine, pid: int, comm: str, message: str, site: tuple[str, str, str],
            frames: list[str], seed: int = 0) -> list[tuple[int, str]]:
    """__warn with a message (WARN(cond, fmt...)): cut here, the message, the WARNING line,
    modules, who, registers at the WARN's ud2, the trace (kernel/panic.c)."""
    where, function, code = site
    rng = random.Random(f"{seed}:{function}")
    regs = oops._regs(rng, {})
    rsp = 0xFFFFC90000000000 | rng.getrandbits(20) << 4
    lines = [(oops.KERN_DEFAULT, oops.CUT_HERE), (oops.KERN_WARNING, message),
             (oops.KERN_WARNING, f"WARNING: CPU: {machine.cpu} PID: {pid} at {where} "
                                 f"{function}"),
             (oops.KERN_WARNING, machine.modules_line()),
             (oops.KERN_DEFAULT, machine.cpu_line(pid, comm)),
             (oops.KERN_DEFAULT, f"Hardware name: {machine.hardware}")]
    lines += oops.register_lines(function, rsp, 0x282, regs, 0, code)
    lines += oops.call_trace(frames)
    lines.append((oops.KERN_WARNING, oops.END_TRACE))
    return lines


def timer_preempt_leak(machine: oops.Machine, pid: int, comm: str, callback: str, before: int,
                       after: int, seed: int = 0) -> list[tuple[int, str]]:
    message = f"timer: {callback} preempt leak: {before:08x} -> {after:08x}"
    return warning(machine, pid, comm, message, TIMER_LEAK_SITE, TAILS["timer"][1:], seed)


def initcall_problem(machine: oops.Machine, pid: int, comm: str, initcall: str,
                     problems: str, seed: int = 0) -> list[tuple[int, str]]:
    """`problems`: "preemption imbalance " and/or "disabled interrupts " (do_one_initcall's
    msgbuf, trailing space included)."""
    message = f"initcall {initcall} returned with {problems}"
    return warning(machine, pid, comm, message, INITCALL_SITE, TAILS["finit_module"][1:], seed)


def workqueue_leak(machine: oops.Machine, pid: int, comm: str, count: int, function: str,
                   workqueue: str) -> list[tuple[int, str]]:
    """kernel/workqueue.c process_one_work: a work function that returns atomic."""
    # one record: util-linux dmesg indents its second line under the first's text
    lines = [(oops.KERN_ERR, f"BUG: workqueue leaked lock or atomic: {comm[:15]}/0x{count:08x}/"
                             f"{pid}\n     last function: {function}")]
    frames = ["dump_stack_lvl+0x44/0x5c", "process_one_work.cold+0x37/0x3c"] + WORKER_THREAD
    return lines + dump_stack(machine, pid, comm, frames, workqueue)


def softirq_count_changed(name: str, handler: str, before: int,
                          after: int) -> list[tuple[int, str]]:
    """kernel/softirq.c handle_softirqs, after a softirq vector's action."""
    vec = {"HI": 0, "TIMER": 1, "TASKLET": 6}[name]
    return [(oops.KERN_ERR, f"softirq: huh, entered softirq {vec} {name} {handler} with "
                            f"preempt_count {before:08x}, exited with {after:08x}?")]


def exited_with_preempt_count(pid: int, comm: str, count: int) -> list[tuple[int, str]]:
    """kernel/exit.c do_exit: a task that ends atomic."""
    return [(oops.KERN_INFO, f"note: {comm[:15]}[{pid}] exited with preempt_count {count}")]


def exited_with_irqs_disabled(pid: int, comm: str) -> list[tuple[int, str]]:
    return [(oops.KERN_INFO, f"note: {comm[:15]}[{pid}] exited with irqs disabled")]


def emit_plain(kernel, lines: list[tuple[int, str]]) -> None:
    """Print lines that taint nothing."""
    for level, text in lines:
        kernel.log.printk(f"\001{level}{text}\n")


def emit(kernel, module, lines: list[tuple[int, str]]) -> None:
    """Print a report, then taint W (add_taint after the report, as __warn and
    __schedule_bug do)."""
    for level, text in lines:
        kernel.log.printk(f"\001{level}{text}\n")
    bit = 1 << oops.TAINT_WARN
    if not kernel.tainted & bit:
        kernel.tainted |= bit
        kernel.event("taint", module.name if module is not None else "", bit)
