"""The texts the kernel prints when something goes wrong: oops, WARN, BUG, panic.

A user-space bug kills one process ("Segmentation fault"); a bug in module code is a bug in
the kernel. The kernel prints a structured report into its ring buffer (dmesg, journalctl -k,
/var/log/kern.log on Debian 12 with rsyslog) - text lines, with one `Code:` line of
instruction bytes, not a hexdump - kills the task that was running, marks itself tainted (D),
and with panic_on_oops=1 stops the whole machine.

Formats, from Linux 6.1.192 (Debian's linux-source-6.1):
- taint string: kernel/panic.c:469-520 (taint_flags[], print_tainted)
- "CPU: ... Comm: ... Tainted: ..." line: lib/dump_stack.c:56-70, with Debian's
  LINUX_PACKAGE_ID " Debian 6.1.192-2" (include/generated/package.h of the headers package)
- "Oops: %04lx [#%d] PREEMPT SMP NOPTI": arch/x86/kernel/dumpstack.c:414-430 (__die_header)
- RIP/Code/RSP/registers: arch/x86/kernel/dumpstack.c:113-152, process_64.c:66-123
- "Modules linked in:" with (OE), (+) loading, (-) unloading: kernel/module/main.c:2996-3020,
  3138-3158 (module_flags, print_modules); "[last unloaded: leaker(OE)]": the name and taint
  flags delete_module kept (main.c:763-765, printed at 3154-3156)
- WARNING / cut here / end trace: kernel/panic.c:659-690, lib/bug.c:200, panic.c:640
- panic lines: kernel/panic.c:333,440; arch/x86/kernel/setup.c:811 (Kernel Offset)
- sleeping in atomic context: kernel/sched/core.c:9975-10015 (__might_resched)

Register values, code bytes and function sizes are model values (seeded); the shape of every
line and the flags are the kernel's.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from kcourse import pin

# printk levels (include/linux/kern_levels.h)
KERN_EMERG, KERN_ALERT, KERN_CRIT, KERN_ERR, KERN_WARNING = 0, 1, 2, 3, 4
KERN_NOTICE, KERN_INFO, KERN_DEBUG = 5, 6, 7
KERN_DEFAULT = 4  # CONFIG_MESSAGE_LOGLEVEL_DEFAULT=4 in Debian's config

# kernel/panic.c:469-489, in bit order: (char when set, char when clear, shown per module)
TAINT_FLAGS = (
    ("P", "G", True), ("F", " ", True), ("S", " ", False), ("R", " ", False),
    ("M", " ", False), ("B", " ", False), ("U", " ", False), ("D", " ", False),
    ("A", " ", False), ("W", " ", False), ("C", " ", True), ("I", " ", False),
    ("O", " ", True), ("E", " ", True), ("L", " ", False), ("K", " ", True),
    ("X", " ", True), ("T", " ", True), ("N", " ", True),
)
TAINT_PROPRIETARY_MODULE, TAINT_DIE, TAINT_WARN = 0, 7, 9
TAINT_OOT_MODULE, TAINT_UNSIGNED_MODULE = 12, 13

CUT_HERE = "------------[ cut here ]------------"  # include/asm-generic/bug.h:9
END_TRACE = "---[ end trace 0000000000000000 ]---"  # kernel/panic.c:640
HARDWARE = "QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.16.2-debian-1.16.2-1 04/01/2014"


def taint_mask(letters: str) -> int:
    """'OE' -> the bits for O and E."""
    mask = 0
    for bit, (c_true, _, _) in enumerate(TAINT_FLAGS):
        if c_true in letters:
            mask |= 1 << bit
    return mask


def print_tainted(mask: int) -> str:
    """kernel/panic.c:499 print_tainted: one column per flag, or 'Not tainted'."""
    if not mask:
        return "Not tainted"
    return "Tainted: " + "".join(t if mask >> i & 1 else f for i, (t, f, _) in
                                 enumerate(TAINT_FLAGS))


def module_flags(mask: int, state: str = "live", show_state: bool = True) -> str:
    """kernel/module/main.c:2996 module_flags: '(OE)', '(OE+)' while loading, '(-)' unloading.
    show_state=False (delete_module keeping the last unloaded module's flags, main.c:765):
    the taint letters alone, and nothing for an untainted module (main.c:3001)."""
    letters = "".join(t for i, (t, _, per_module) in enumerate(TAINT_FLAGS)
                      if per_module and mask >> i & 1)
    if not mask and not show_state:
        return ""
    coming, going = state == "coming", state == "going"
    if not (mask or coming or going):
        return ""
    return "(" + letters + ("-" if going and show_state else "") + \
        ("+" if coming and show_state else "") + ")"


@dataclass
class Machine:
    """What the report headers need to know about the running kernel."""

    release: str = field(default_factory=lambda: pin.release())
    # UTS_VERSION and LINUX_PACKAGE_ID of Debian's build: both carry the package version
    version: str = field(
        default_factory=lambda: f"#1 SMP PREEMPT_DYNAMIC Debian {pin.debian_version()}")
    package_id: str = field(default_factory=lambda: f" Debian {pin.debian_version()}")
    hardware: str = HARDWARE
    cpu: int = 0
    taint: int = 0
    # (name, taint mask, state) newest first, as the kernel's module list
    modules: list[tuple[str, int, str]] = field(default_factory=list)
    # kernel/module/main.c:528-531 last_unloaded_module: the name and module_flags() text
    last_unloaded: str = ""
    last_unloaded_taints: str = ""  # "(OE)", or "" for an untainted module
    panic_on_oops: bool = False
    oops_count: int = 0  # die_counter: [#1], [#2], ...

    def cpu_line(self, pid: int, comm: str) -> str:
        """lib/dump_stack.c:58: uname version is cut at its first space ("#1")."""
        version = self.version.split(" ")[0]
        return (f"CPU: {self.cpu} PID: {pid} Comm: {comm[:15]} {print_tainted(self.taint)} "
                f"{self.release} {version} {self.package_id}")

    def modules_line(self) -> str:
        parts = "".join(f" {name}{module_flags(mask, state)}" for name, mask, state in
                        self.modules if state != "unformed")
        # main.c:3154-3156: pr_cont(" [last unloaded: %s%s]", name, taints)
        last = (f" [last unloaded: {self.last_unloaded}{self.last_unloaded_taints}]"
                if self.last_unloaded else "")
        return f"Modules linked in:{parts}{last}"


class KernelOops(Exception):  # noqa: N818 - named after the thing it models
    """Raised by a behavior or a model when module code oopses.

    The Kernel catches it: puts `lines` into the ring buffer, sets TAINT_DIE, kills the task
    (insmod is "Killed"), and leaves a module whose init oopsed in the COMING state. If
    `panic` is true the machine is gone: nothing runs after it until reboot.
    """

    def __init__(self, lines: list[tuple[int, str]], panic: bool = False, headline: str = ""):
        super().__init__(headline or (lines[0][1] if lines else "Oops"))
        self.lines = lines
        self.panic = panic


def _regs(rng: random.Random, overrides: dict[str, int]) -> dict[str, int]:
    names = ["RAX", "RBX", "RCX", "RDX", "RSI", "RDI", "RBP", "R08", "R09", "R10", "R11",
             "R12", "R13", "R14", "R15"]
    kernelish = [0, 0xFFFF888100000000 | rng.getrandbits(28) << 4, 0xFFFFFFFFC0000000 |
                 rng.getrandbits(20) << 4, 0xFFFFFFFF81000000 | rng.getrandbits(20) << 4]
    regs = {n: rng.choice(kernelish + [rng.getrandbits(16)]) for n in names}
    regs.update(overrides)
    return regs


def code_line(before: bytes, at: int, after: bytes) -> str:
    """arch/x86/kernel/dumpstack.c:123: 42 bytes, the faulting one in <>, 21 more."""
    assert len(before) == 42 and len(after) == 21
    return ("Code: " + " ".join(f"{b:02x}" for b in before) + f" <{at:02x}> " +
            " ".join(f"{b:02x}" for b in after))


def _code(rng: random.Random, opcode: bytes) -> str:
    """A plausible code window: int3 padding, an ftrace nop, a function body; model bytes."""
    before = bytes([0xCC] * 6 + [0x0F, 0x1F, 0x44, 0x00, 0x00] +  # nopl for ftrace
                   [0x55, 0x48, 0x89, 0xE5] + [rng.randrange(256) for _ in range(27)])
    after = opcode[1:] + bytes(rng.randrange(256) for _ in range(21 - len(opcode) + 1))
    return code_line(before, opcode[0], after)


def register_lines(rip: str, rsp: int, eflags: int, regs: dict[str, int], cr2: int,
                   code: str) -> list[tuple[int, str]]:
    """show_iret_regs + __show_regs(SHOW_REGS_ALL) (dumpstack.c:147, process_64.c:66-123)."""
    r = regs
    lines = [f"RIP: 0010:{rip}", code,
             f"RSP: 0018:{rsp:016x} EFLAGS: {eflags:08x}",
             f"RAX: {r['RAX']:016x} RBX: {r['RBX']:016x} RCX: {r['RCX']:016x}",
             f"RDX: {r['RDX']:016x} RSI: {r['RSI']:016x} RDI: {r['RDI']:016x}",
             f"RBP: {r['RBP']:016x} R08: {r['R08']:016x} R09: {r['R09']:016x}",
             f"R10: {r['R10']:016x} R11: {r['R11']:016x} R12: {r['R12']:016x}",
             f"R13: {r['R13']:016x} R14: {r['R14']:016x} R15: {r['R15']:016x}",
             "FS:  00007f3c1a2e4740(0000) GS:ffff88813bc00000(0000) knlGS:0000000000000000",
             "CS:  0010 DS: 0000 ES: 0000 CR0: 0000000080050033",
             # CR4 bit 21 = SMAP, bit 20 = SMEP (arch/x86/include/uapi/asm/processor-flags.h)
             f"CR2: {cr2:016x} CR3: 000000010b5e6000 CR4: 00000000003506f0"]
    return [(KERN_DEFAULT, t) for t in lines]


def call_trace(frames: list[str]) -> list[tuple[int, str]]:
    """dumpstack.c:195,72: 'Call Trace:', ' <TASK>', one frame a line, ' </TASK>'."""
    return [(KERN_DEFAULT, "Call Trace:"), (KERN_DEFAULT, " <TASK>")] + \
        [(KERN_DEFAULT, f" {f}") for f in frames] + [(KERN_DEFAULT, " </TASK>")]


def die_lines(machine: Machine, title: str, err: int, pid: int, comm: str, rip: str,
              frames: list[str], cr2: int = 0, opcode: bytes = b"\x8b\x07",
              regs: dict[str, int] | None = None, seed: int = 0,
              in_interrupt: bool = False, rsp: int | None = None,
              cr2_summary: bool = True,
              code: str | None = None,
              cr2_now: int | None = None) -> tuple[list[tuple[int, str]], bool]:
    """__die + oops_end (arch/x86/kernel/dumpstack.c:377-445): the body of every oops.

    `code`: the Code: line when the caller knows the module's bytes (kcourse.kernel.faultsite);
    else a model window around `opcode`. `cr2_now`: CR2 as __show_regs reads it (read_cr2(),
    arch/x86/kernel/process_64.c:112) when show_opcodes' own read faulted just before and
    replaced the fault address (kcourse.kernel.faultsite.unreadable_at); the CR2: summary
    line after the trace keeps the fault's address (arch/x86/mm/fault.c:727).

    Returns (lines, panicked). Updates machine.oops_count and sets TAINT_DIE after printing,
    as oops_end does (dumpstack.c:384).
    """
    rng = random.Random(seed)
    machine.oops_count += 1
    regs = _regs(rng, regs or {})
    rsp = rsp if rsp is not None else 0xFFFFC90000000000 | rng.getrandbits(20) << 12 | 0xD38
    code = code or _code(rng, opcode)
    reg_lines = register_lines(rip, rsp, 0x00010246, regs,
                               cr2 if cr2_now is None else cr2_now, code)
    lines = [(KERN_DEFAULT, f"{title}: {err & 0xFFFF:04x} [#{machine.oops_count}] "
                            "PREEMPT SMP NOPTI"),
             (KERN_DEFAULT, machine.cpu_line(pid, comm)),
             (KERN_DEFAULT, f"Hardware name: {machine.hardware}")]
    lines += reg_lines + call_trace(frames) + [(KERN_DEFAULT, machine.modules_line())]
    if cr2 and cr2_summary:
        lines.append((KERN_DEFAULT, f"CR2: {cr2:016x}"))  # fault.c:727 executive summary
    lines.append((KERN_WARNING, END_TRACE))
    lines += reg_lines  # oops_end: "Executive summary in case the oops scrolled away"
    machine.taint |= 1 << TAINT_DIE
    if in_interrupt:
        return lines + panic_lines("Fatal exception in interrupt", rng), True
    if machine.panic_on_oops:
        return lines + panic_lines("Fatal exception", rng), True
    return lines, False


def panic_lines(reason: str, rng: random.Random | None = None) -> list[tuple[int, str]]:
    """kernel/panic.c:333,440 with the x86 Kernel Offset notifier (setup.c:811) between."""
    rng = rng or random.Random(0)
    offset = rng.randrange(1, 512) << 21  # KASLR: 2 MiB aligned
    return [(KERN_EMERG, f"Kernel panic - not syncing: {reason}"),
            (KERN_EMERG, f"Kernel Offset: 0x{offset:x} from 0xffffffff81000000 "
                         "(relocation range: 0xffffffff80000000-0xffffffffbfffffff)"),
            (KERN_EMERG, f"---[ end Kernel panic - not syncing: {reason} ]---")]


def warning_lines(where: str, function: str, pid: int, comm: str, site: str = "",
                  machine: Machine | None = None, seed: int = 0,
                  inner: list[str] | None = None) -> list[tuple[int, str]]:
    """A WARN_ON: cut here, WARNING line, modules, registers, trace, end marker.

    kernel/panic.c:659-690 (__warn) after lib/bug.c:200 (CUT_HERE). Sets TAINT_WARN.
    """
    machine = machine or Machine()
    rng = random.Random(seed)
    offset = f"+0x{rng.randrange(0x100, 0x300):x}/0x{rng.randrange(0x300, 0x400):x}"
    lines = [(KERN_DEFAULT, CUT_HERE),
             (KERN_WARNING, f"WARNING: CPU: {machine.cpu} PID: {pid} at {where} "
                            f"{function}{offset}"),
             (KERN_WARNING, machine.modules_line()),
             (KERN_WARNING, machine.cpu_line(pid, comm)),
             (KERN_WARNING, f"Hardware name: {machine.hardware}")]
    regs = register_lines(f"{function}{offset}", 0xFFFFC90000000000 | rng.getrandbits(20) << 12,
                          0x00010246, _regs(rng, {}), 0, _code(rng, b"\x0f\x0b"))
    lines += regs  # ud2 (0f 0b) is how x86 WARN traps
    frames = (inner or []) + ([site] if site else [])
    lines += call_trace(frames + _syscall_tail(comm))
    lines.append((KERN_WARNING, END_TRACE))
    machine.taint |= 1 << TAINT_WARN
    return lines


def might_sleep_lines(where: str, pid: int, comm: str, preempt_count: int = 1,
                      site: str = "", machine: Machine | None = None) -> list[tuple[int, str]]:
    """kernel/sched/core.c:9998-10015 (__might_resched), printed only with
    CONFIG_DEBUG_ATOMIC_SLEEP=y; then dump_stack() and TAINT_WARN."""
    machine = machine or Machine()
    lines = [(KERN_ERR, f"BUG: sleeping function called from invalid context at {where}"),
             (KERN_ERR, f"in_atomic(): 1, irqs_disabled(): 0, non_block: 0, pid: {pid}, "
                        f"name: {comm[:15]}"),
             (KERN_ERR, f"preempt_count: {preempt_count:x}, expected: 0"),
             (KERN_ERR, "RCU nest depth: 0, expected: 0"),  # CONFIG_PREEMPT_RCU=y
             (KERN_DEFAULT, machine.cpu_line(pid, comm)),
             (KERN_DEFAULT, f"Hardware name: {machine.hardware}")]
    lines += call_trace(["dump_stack_lvl+0x44/0x5c", "__might_resched.cold+0xcc/0xde"] +
                        ([site] if site else []) + _syscall_tail(comm))
    machine.taint |= 1 << TAINT_WARN
    return lines


def _syscall_tail(comm: str) -> list[str]:
    if comm == "insmod":
        return ["do_one_initcall+0x59/0x230", "do_init_module+0x4a/0x200",
                "__do_sys_finit_module+0xac/0x120", "do_syscall_64+0x55/0xb0",
                "entry_SYSCALL_64_after_hwframe+0x6e/0xd8"]
    return ["vfs_read+0xb0/0x2f0", "ksys_read+0x5f/0xe0", "do_syscall_64+0x55/0xb0",
            "entry_SYSCALL_64_after_hwframe+0x6e/0xd8"]


def text(lines: list[tuple[int, str]]) -> str:
    """The report as `dmesg` prints it without timestamps."""
    return "\n".join(t for _, t in lines)
