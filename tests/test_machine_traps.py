"""Traps and privileged instructions in module code end as they do on Debian's 6.1 kernel.

One module, built with the real kbuild against the pinned headers, runs the instruction
chosen by its `op` parameter in its init. The expected first lines are the kernel's own
(arch/x86/kernel/traps.c, arch/x86/mm/fault.c); what the simulator cannot model is one
`kcourse:` line; and the Kernel keeps working afterwards unless the machine panicked.
"""

import pytest

from conftest import need
from kcourse.build.cell import build_cell
from kcourse.kernel.kernel import Kernel
from kcourse.paths import course_module
from kcourse.shell.core import Shell

OPS = {
    "ud2": "ud2",
    "ud1": "ud1 %%eax, %%eax",
    "badop": ".byte 0x0f, 0xff",  # ud0 without its ModRM byte: no instruction at all
    "int6": "int $6",
    "vmcall": "vmcall",
    "int3": "int3",
    "int3imm": "int $3",
    "int0": "int $0",
    "int4": "int $4",
    "int1": "int $1",
    "icebp": ".byte 0xf1",
    "int80": "int $0x80",
    "int20": "int $0x20",
    "int14": "int $14",
    "hlt": "hlt",
    "clihlt": "cli; hlt",
    "wrmsr": "xor %%eax, %%eax; xor %%edx, %%edx; mov $0x12345, %%ecx; wrmsr",
    "rdmsr": "mov $0x10, %%ecx; rdmsr",
    "out": "mov $0xfe, %%al; outb %%al, $0x64",
    "syscall": "syscall",
    "lgdt": "sub $16, %%rsp; movq $0, (%%rsp); movq $0, 8(%%rsp); lgdt (%%rsp); add $16, %%rsp",
    "cr0pg": "mov %%cr0, %%rax; btr $31, %%rax; mov %%rax, %%cr0",
    "cr0wp": "mov %%cr0, %%rax; btr $16, %%rax; mov %%rax, %%cr0; bts $16, %%rax; "
             "mov %%rax, %%cr0",
    "cr3": "xor %%eax, %%eax; mov %%rax, %%cr3",
    "movds": "mov $0x18, %%eax; mov %%eax, %%ds",
    "swapgs": "swapgs",
    "sse": "xorps %%xmm0, %%xmm0",
    "tf": "pushf; orq $0x100, (%%rsp); popf; nop",
    "nullwrite": "movq $1, 0",
    "rsp_nc": "mov %%rsp, %%rbx; movabs $0x8000000000000000, %%rsp; push %%rax; "
              "mov %%rbx, %%rsp",
    "rsp_unmapped": "mov %%rsp, %%rbx; movabs $0xffff888100000000, %%rsp; push %%rax; "
                    "mov %%rbx, %%rsp",
}
SOURCE = '''#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt
#include <linux/module.h>
#include <linux/init.h>

static int op;
module_param(op, int, 0444);

static int __init traps_init(void)
{
        pr_info("op %d\\n", op);
        switch (op) {
''' + "".join(f'        case {i}: asm volatile("{asm}" ::: "rax", "rbx", "rcx", "rdx", '
              f'"memory"); break;\n' for i, asm in enumerate(OPS.values(), 1)) + '''        }
        pr_info("after %d\\n", op);
        return 0;
}
module_init(traps_init);
MODULE_LICENSE("GPL");
'''
NUMBER = {name: i for i, name in enumerate(OPS, 1)}


@pytest.fixture(scope="module")
def traps_ko(tmp_path_factory):
    result = build_cell("traps", SOURCE, base=tmp_path_factory.mktemp("traps"))
    need(result.ok, result.problem or result.output)
    return result.ko


def run(ko, op):
    """insmod traps.ko op=N, then a good module: (insmod's result, the log's texts, kernel)."""
    kernel = Kernel(seed=3)
    shell = Shell(kernel, workdir=str(ko.parent))
    result = shell.run(f"insmod traps.ko op={NUMBER[op]}")
    texts = [line.split("] ", 1)[1] for line in kernel.dmesg_lines()]
    after = shell.run(f"insmod {course_module('hello')}")
    if kernel.panicked:
        assert "Kernel panic - not syncing" in after.stderr and after.rc == 137
    else:
        assert after.rc == 0, after.stderr  # the Kernel still loads a good module
    return result, texts, kernel


def oops_title(texts):
    """The die() line: "<str>: <err> [#1] PREEMPT SMP NOPTI" (dumpstack.c __die_header)."""
    return next(t for t in texts if t.endswith("[#1] PREEMPT SMP NOPTI"))


@pytest.mark.parametrize("op", ["ud2", "ud1", "badop", "int6"])
def test_an_invalid_instruction_is_the_kernels_invalid_opcode_oops(traps_ko, op):
    # traps.c exc_invalid_op -> handle_invalid_op: do_error_trap(... "invalid opcode" ...)
    # (a ud2 outside the module's __bug_table is no BUG(): report_bug finds nothing)
    result, texts, kernel = run(traps_ko, op)
    assert result.rc == 137 and not kernel.panicked
    assert oops_title(texts) == "invalid opcode: 0000 [#1] PREEMPT SMP NOPTI"
    assert not any(t.startswith("#PF") for t in texts)
    assert f"traps: after {NUMBER[op]}" not in texts


def test_an_instruction_unicorn_lacks_is_one_limit_line(traps_ko):
    result, texts, kernel = run(traps_ko, "vmcall")
    assert result.rc == 1 and result.stderr.count("\n") == 1
    assert result.stderr.startswith("kcourse: traps_init+0x")
    assert "executes `vmcall`" in result.stderr and "kcourse sim --real" in result.stderr
    assert not kernel.find_module("traps")  # the load was unwound


@pytest.mark.parametrize("op", ["int3", "int3imm"])
def test_int3_is_the_int3_oops_and_a_panic(traps_ko, op):
    # traps.c exc_int3: from kernel mode, irqentry_nmi_enter(); then die("int3", regs, 0), and
    # oops_end (dumpstack.c) panics because in_interrupt() is true in NMI context
    result, texts, kernel = run(traps_ko, op)
    assert result.rc == 137 and kernel.panicked
    assert oops_title(texts) == "int3: 0000 [#1] PREEMPT SMP NOPTI"
    assert texts[-3] == "Kernel panic - not syncing: Fatal exception in interrupt"
    # int3 is a trap: regs->ip is the next instruction, after the one byte (or two of int $3)
    rip = next(t for t in texts if t.startswith("RIP: 0010:traps_init+"))
    assert rip == next(t for t in reversed(texts) if t.startswith("RIP: "))


@pytest.mark.parametrize("op, title", [("int0", "divide error"), ("int4", "overflow")])
def test_int_n_of_a_vector_whose_handler_dies_is_that_oops(traps_ko, op, title):
    # `int $N` from ring 0 reaches every IDT gate (idt.c); exc_divide_error and exc_overflow
    # call do_error_trap(), which die()s for a kernel-mode trap (traps.c do_trap_no_signal)
    result, texts, kernel = run(traps_ko, op)
    assert result.rc == 137 and not kernel.panicked
    assert oops_title(texts) == f"{title}: 0000 [#1] PREEMPT SMP NOPTI"


@pytest.mark.parametrize("op", ["int1"])
def test_int1_is_ignored_by_the_kernel(traps_ko, op):
    # traps.c exc_debug_kernel: no DR6 bit is set, "The kernel doesn't use INT1": goto out
    result, texts, kernel = run(traps_ko, op)
    assert result.rc == 0, result.stderr
    assert f"traps: after {NUMBER[op]}" in texts


@pytest.mark.parametrize("op", ["int80", "int20", "int14"])
def test_int_n_of_other_vectors_is_one_limit_line(traps_ko, op):
    # 0x80 is the 32-bit system call entry, 0x20 a device interrupt, 14 the page fault
    # handler entered without the error code it pops: nothing the simulator can answer
    result, texts, kernel = run(traps_ko, op)
    assert result.rc == 1 and result.stderr.count("\n") == 1
    assert result.stderr.startswith("kcourse: traps_init+0x") and "executes `int 0x" in \
        result.stderr
    assert not any(t.endswith("PREEMPT SMP NOPTI") for t in texts)
