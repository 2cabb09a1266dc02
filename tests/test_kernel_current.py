"""The calling task: one pid and comm per process in every report the kernel prints.

Sources (Linux 6.1.192): kernel/panic.c:659-691 (__warn prints "WARNING: CPU: %d PID: %d",
dump_stack's "CPU: .. PID: .. Comm: .." line, then add_taint(TAINT_WARN)); mm/kmemleak.c
records current->pid and current->comm with each object ("comm \"%s\", pid %d").
"""

import re

from kcourse.behaviors.base import Behavior
from kcourse.kernel import Kernel, TaskKilled
from kcourse.kernel.oops import TAINT_WARN, print_tainted
from kcourse.paths import course_module

BIG = 5 << 20  # order 11 >= MAX_ORDER: WARN_ON_ONCE_GFP and NULL (mm/page_alloc.c:5634)


class TooBig(Behavior):
    def init(self, ctx) -> int:
        return 0 if ctx.kmalloc(BIG, site=ctx.site("toobig_init")) is None else -12


def texts(k: Kernel) -> list[str]:
    return [r.text for r in k.log.records]


def test_a_warn_taints_w_after_its_report():
    k = Kernel(seed=1, behaviors={"hello": TooBig()})
    k.finit_module(course_module("hello"))
    lines = texts(k)
    cpu = next(t for t in lines if t.startswith("CPU: 0 PID: "))
    # The report shows the taint from before the WARN (O and E from hello.ko, no W) ...
    assert re.search(r"Tainted: G {11}OE ", cpu), cpu
    # ... then add_taint(TAINT_WARN, LOCKDEP_STILL_OK): bit 9 in /proc/sys/kernel/tainted.
    assert k.tainted >> TAINT_WARN & 1
    assert int(k.read_file("/proc/sys/kernel/tainted")) == 4096 | 8192 | 512
    assert not any("Disabling lock debugging" in t for t in lines)  # LOCKDEP_STILL_OK
    # A later report (kmemleak, oops) carries W: the Kernel's machine says so.
    assert print_tainted(k.machine().taint) == "Tainted: G        W  OE     "


def test_warn_once_leaves_no_second_report():
    k = Kernel(seed=1, behaviors={"hello": TooBig()})
    k.finit_module(course_module("hello"))
    k.delete_module("hello")
    before = len(k.log.records)
    k.finit_module(course_module("hello"))
    assert not any(t.startswith("WARNING:") for t in texts(k)[before:])


def test_kmemleak_and_oops_name_the_same_insmod():
    k = Kernel(seed=1)
    k.finit_module(course_module("leaker"))
    k.delete_module("leaker")
    report = k.memory.kmemleak_report()
    pid = int(re.search(r'comm "insmod", pid (\d+)', report).group(1))
    try:
        k.finit_module(course_module("stackhog"))
    except TaskKilled:
        pass
    cpu = next(t for t in texts(k) if t.startswith("CPU: 0 PID: "))
    assert cpu.startswith(f"CPU: 0 PID: {pid} Comm: insmod ")


def test_a_device_write_runs_in_the_shell_process():
    """`echo hi > /dev/baduser` is bash's builtin: the oops names bash, and allocations made
    meanwhile are recorded for the same pid."""
    k = Kernel(seed=1)
    k.finit_module(course_module("baduser"))
    try:
        k.write_file("/dev/baduser", "hi\n")
    except TaskKilled:
        pass
    cpu = next(t for t in texts(k) if t.startswith("CPU: 0 PID: "))
    pid, comm = k.current
    assert comm == "bash" and cpu.startswith(f"CPU: 0 PID: {pid} Comm: bash ")
    assert (k.memory.pid, k.memory.comm) == (pid, "bash")


def test_user_space_can_name_the_caller():
    k = Kernel(seed=1)
    with k.task("modprobe"):
        k.finit_module(course_module("hello"))
    assert k.current == (k.pid_of("modprobe"), "modprobe")
    assert k.pid_of("modprobe") != k.pid_of("insmod")
    k.delete_module("hello")
    assert k.current == (k.pid_of("rmmod"), "rmmod")


def test_stackhog_trace_names_do_one_initcall_once():
    """DEPTH_AT_INIT already holds do_one_initcall's frame; the trace lists it once, between
    the init function and do_init_module (kernel/module/main.c do_init_module)."""
    k = Kernel(seed=3)
    try:
        k.finit_module(course_module("stackhog"))
    except TaskKilled:
        pass
    trace = [t.strip() for t in texts(k)]
    assert sum(t.startswith("do_one_initcall+") for t in trace) == 1
    i = next(n for n, t in enumerate(trace) if t.startswith("do_one_initcall+"))
    assert trace[i + 1].startswith("do_init_module+")
