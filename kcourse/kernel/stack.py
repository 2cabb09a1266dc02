"""Kernel stacks: small, fixed, and fatal to overflow. User stacks: large and growable.

Each thread has one kernel stack of THREAD_SIZE bytes. On x86_64 that is 16 KiB since
Linux 3.15 ("x86_64: expand kernel stack to 16K"), 8 KiB before, and 32 KiB with KASAN
(arch/x86/include/asm/page_64_types.h: THREAD_SIZE_ORDER = 2 + KASAN_STACK_ORDER). It never
grows. With CONFIG_VMAP_STACK=y (Debian) it lives in vmalloc space, so an unmapped page lies
below it. A user thread's stack may grow to RLIMIT_STACK, 8 MiB by default (_STK_LIM).

What happens on overflow (6.1, arch/x86/kernel/traps.c:402-415, 520-553; fault.c:653-700):
the first access below the stack faults, the CPU cannot push the #PF frame on that same stack
and raises a double fault (#DF runs on its own IST stack). If CR2 is in the page just below the
stack, the kernel says `BUG: TASK stack guard page was hit at ...` and dies with
"stack guard page"; if the access jumped further (Debian builds with
-fno-stack-clash-protection, Makefile:941, so big frames are not probed page by page) it says
`traps: PANIC: double fault, error_code: 0x0` (traps.c pr_fmt). Both end in `Kernel panic -
not syncing: Fatal exception in interrupt`: the double-fault handler runs as an NMI-like
entry, so oops_end panics (dumpstack.c:397). Older kernels (reports up to 5.9 show it) printed
`BUG: stack guard page was hit at ...` and `kernel stack overflow (double-fault): 0000 [#1]`.

Frame sizes: gcc 12 (Debian's kernel compiler) gives a function whose only local is
`char buf[20000]` a 20008-byte frame: the array plus the 8-byte stack-protector canary
(CONFIG_STACKPROTECTOR_STRONG=y), measured by building such a module against
linux-headers-6.1.0-56-amd64 (`warning: the frame size of 20008 bytes is larger than 2048
bytes [-Wframe-larger-than=]`, CONFIG_FRAME_WARN=2048). How deep the stack already is when a
module's init runs is a model value (DEPTH_AT_INIT), not a measurement.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from kcourse.kernel import oops
from kcourse.userspace import STK_LIM, ProcessDied, UserSystem

PAGE_SIZE = 4096
FRAME_WARN = 2048  # CONFIG_FRAME_WARN in Debian's 6.1 config
# Bytes in use below pt_regs when do_one_initcall calls a module's init (model): the syscall
# path and do_one_initcall's own frame are in it, so a chain given to run_kernel starts with
# the init function (oops._syscall_tail names do_one_initcall in the trace).
DEPTH_AT_INIT = 1200
PT_REGS = 168  # struct pt_regs at the top of every kernel stack (21 x 8 bytes)


def thread_size(version: str = "6.1", arch: str = "x86_64", kasan: bool = False) -> int:
    """THREAD_SIZE for a kernel version: 8 KiB before 3.15 on x86_64, 16 KiB since."""
    if arch != "x86_64":
        raise ValueError("only x86_64 is modelled")
    major, minor = (int(x) for x in version.split(".")[:2])
    size = 16384 if (major, minor) >= (3, 15) else 8192
    return size * 2 if kasan else size


def frame_size(local_bytes: int, stack_protector: bool = True) -> int:
    """gcc -O2 x86_64 frame for a leaf-ish function whose locals are one array.

    rsp stays 16-byte aligned at calls: with the 8-byte return address pushed, the frame
    is (array [+ 8-byte canary] + 8) rounded up to 16, minus 8. 20000 -> 20008.
    """
    need = local_bytes + (8 if stack_protector else 0) + 8
    return (need + 15) // 16 * 16 - 8


def frame_warning(file: str, line: int, frame: int, limit: int = FRAME_WARN) -> str | None:
    """What gcc prints at build time (-Wframe-larger-than=, top Makefile:864)."""
    if frame <= limit:
        return None
    return (f"{file}:{line}:1: warning: the frame size of {frame} bytes is larger than "
            f"{limit} bytes [-Wframe-larger-than=]")


@dataclass
class StackRun:
    """The outcome of running a call chain on one stack."""

    where: str  # "kernel" | "user"
    size: int
    deepest: int  # bytes in use at the deepest point
    ok: bool
    outcome: str  # ok | guard-page | double-fault | segfault
    lines: list[tuple[int, str]] = field(default_factory=list)
    panicked: bool = False

    @property
    def text(self) -> str:
        return oops.text(self.lines)


def run_kernel(frames: list[tuple[str, int]], version: str = "6.1", depth: int = DEPTH_AT_INIT,
               machine: oops.Machine | None = None, pid: int = 1234, comm: str = "insmod",
               seed: int = 0) -> StackRun:
    """Call `frames` ((symbol, frame bytes), outermost first) on a kernel stack.

    Each call also pushes an 8-byte return address. The first byte below the stack decides
    the report: the guard page, or further down (a double fault with no guard diagnosis).
    """
    size = thread_size(version)
    used = PT_REGS + depth
    deepest, culprit = used, None
    for symbol, frame in frames:
        used += 8 + frame
        deepest = max(deepest, used)
        if used > size and culprit is None:
            culprit = symbol
    if culprit is None:
        return StackRun("kernel", size, deepest, True, "ok")
    machine = machine or oops.Machine()
    rng = random.Random(seed)
    stack_lo = 0xFFFFC90000000000 | rng.getrandbits(16) << 16  # THREAD_ALIGN'd vmalloc area
    lowest = stack_lo + size - deepest  # the first faulting address (rep stos starts here)
    rip = f"{culprit}+0x30/0x61"
    frames_out = [f"{s}+0x{rng.randrange(0x10, 0x40):x}/0x{rng.randrange(0x40, 0x80):x}"
                  for s, _ in reversed(frames[:-1])] + oops._syscall_tail(comm)
    regs = {"RDI": lowest, "RCX": 0x4E20}
    if lowest >= stack_lo - PAGE_SIZE:
        head = [(oops.KERN_EMERG,
                 f"BUG: TASK stack guard page was hit at {_hashed(rng)} "
                 f"(stack is {_hashed(rng)}..{_hashed(rng)})")]
        body, panicked = oops.die_lines(machine, "stack guard page", 0, pid, comm, rip,
                                        frames_out, opcode=b"\xf3\xaa", regs=regs, seed=seed,
                                        in_interrupt=True, rsp=lowest, cr2=lowest - 8,
                                        cr2_summary=False)
        outcome = "guard-page"
    else:
        head = [(oops.KERN_EMERG, "traps: PANIC: double fault, error_code: 0x0")]  # pr_fmt
        body, panicked = oops.die_lines(machine, "double fault", 0, pid, comm, rip, frames_out,
                                        opcode=b"\xf3\xaa", regs=regs, seed=seed,
                                        in_interrupt=True, rsp=lowest, cr2=lowest - 8,
                                        cr2_summary=False)
        outcome = "double-fault"
    return StackRun("kernel", size, deepest, False, outcome, head + body, panicked)


def run_user(frames: list[tuple[str, int]], limit: int = STK_LIM,
             comm: str = "a.out") -> StackRun:
    """The same call chain in a user process: fine until RLIMIT_STACK, then SIGSEGV.

    Runs on kcourse.userspace's process model, so the segfault line is the one that model
    prints (show_signal_msg, arch/x86/mm/fault.c), with ip inside the code mapping it names.
    Each frame costs its locals plus the 8-byte return address its call pushes."""
    system = UserSystem()
    proc = system.spawn(comm)
    proc.threads[0].stack_limit = limit

    def chain(rest: list[tuple[str, int]]) -> None:
        if rest:
            proc.call(8 + rest[0][1], lambda: chain(rest[1:]))

    try:
        chain(list(frames))
    except ProcessDied:
        lines = [(oops.KERN_INFO, line) for line in system.kernel_log]
        return StackRun("user", limit, proc.threads[0].deepest, False, "segfault", lines)
    return StackRun("user", limit, proc.threads[0].deepest, True, "ok")


def _hashed(rng: random.Random) -> str:
    """%p: a hashed pointer, 16 hex digits with the top half zero (lib/vsprintf.c)."""
    return f"{rng.getrandbits(32):016x}"
