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
    "nc_load": "movabs $0xdead000000000100, %%rax; mov (%%rax), %%rax",
    "gs_nc": "movabs $0x7fffffffffffff00, %%rax; mov %%gs:(%%rax), %%rax",
    "rsp_nc": "mov %%rsp, %%rbx; movabs $0x8000000000000000, %%rsp; push %%rax; "
              "mov %%rbx, %%rsp",
    "rsp_unmapped": "mov %%rsp, %%rbx; movabs $0xffff888100000000, %%rsp; push %%rax; "
                    "mov %%rbx, %%rsp",
}
# C statements: kernel functions handed pointers that nothing maps
C_OPS = {
    "strlen_wild": 'pr_info("%zu\\n", strlen(wild));',
    "strscpy_wild": 'strscpy(wild, "abc", 4);',
    "kfree_wild": "kfree(wild);",
    "write_ktext": "*(volatile char *)&_printk = 0;",
    "printk_loop": 'for (;;) pr_info("again\\n");',
}
ASM_CASES = "".join(f'        case {i}: asm volatile("{asm}" ::: "rax", "rbx", "rcx", "rdx", '
                    f'"memory"); break;\n' for i, asm in enumerate(OPS.values(), 1))
C_CASES = "".join(f"        case {i}: {code} break;\n"
                  for i, code in enumerate(C_OPS.values(), 101))
SOURCE = '''#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt
#include <linux/module.h>
#include <linux/init.h>
#include <linux/slab.h>
#include <linux/string.h>

static char *volatile wild = (char *)0xffff888100000000UL;  /* volatile: kept a pointer */

static int op;
module_param(op, int, 0444);

static int __init traps_init(void)
{
        pr_info("op %d\\n", op);
        switch (op) {
''' + ASM_CASES + C_CASES + '''        }
        pr_info("after %d\\n", op);
        return 0;
}
module_init(traps_init);
MODULE_LICENSE("GPL");
'''
NUMBER = {name: i for i, name in enumerate(OPS, 1)} | \
    {name: i for i, name in enumerate(C_OPS, 101)}


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


@pytest.mark.parametrize("op", ["int1", "icebp"])
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


@pytest.mark.parametrize("op, shown", [
    ("wrmsr", "wrmsr"), ("rdmsr", "rdmsr"), ("out", "out 0x64, al"), ("syscall", "syscall"),
    ("lgdt", "lgdt [rsp]"), ("cr3", "mov cr3, rax"), ("movds", "mov ds, eax"),
    ("swapgs", "swapgs")])
def test_a_privileged_instruction_is_one_limit_line_naming_it(traps_ko, op, shown):
    # unicorn would ignore these (wrmsr to an unknown MSR, out, lgdt) or do what no Debian
    # machine does; the simulator has no MSRs, devices or descriptor tables to answer with
    result, texts, kernel = run(traps_ko, op)
    assert result.rc == 1 and result.stderr.count("\n") == 1
    assert result.stderr.startswith("kcourse: traps_init+0x")
    assert f"executes `{shown}`, which the simulator does not model" in result.stderr
    assert f"traps: after {NUMBER[op]}" not in texts and not kernel.find_module("traps")


def test_clearing_cr0_pg_is_a_general_protection_fault(traps_ko):
    # Intel SDM vol. 2, MOV to/from control registers: in 64-bit mode "#GP(0) if an attempt
    # is made to clear CR0.PG"; traps.c exc_general_protection -> die_addr(GPFSTR ...). The
    # hint decodes the ModRM of `mov %rax,%cr0` (mod 3: the register, insn-eval.c
    # get_eff_addr_reg): rax, CR0 0x80050033 without PG
    result, texts, kernel = run(traps_ko, "cr0pg")
    assert result.rc == 137 and not kernel.panicked
    assert oops_title(texts) == \
        "general protection fault, maybe for address 0x50033: 0000 [#1] PREEMPT SMP NOPTI"


@pytest.mark.parametrize("op, hint", [
    ("nc_load", "probably for non-canonical address 0xdead000000000100"),
    ("gs_nc", "probably for non-canonical address 0x7fff88807fbfff00"),
])
def test_a_general_protection_fault_names_the_address_it_decodes(traps_ko, op, hint):
    # traps.c exc_general_protection -> get_kernel_gp_address: the instruction's memory
    # operand, with the GS base added for a %gs: operand (insn-eval.c get_seg_base_limit);
    # GS is CPU 0's per-cpu base, 0xffff88807fc00000
    result, texts, kernel = run(traps_ko, op)
    assert result.rc == 137 and not kernel.panicked
    title = oops_title(texts)
    assert title.startswith(f"general protection fault, {hint}")
    assert title.endswith(": 0000 [#1] PREEMPT SMP NOPTI")


def test_toggling_cr0_wp_runs_on(traps_ko):
    # what LKMPG's syscall-steal does around its write to the system call table
    result, texts, _kernel = run(traps_ko, "cr0wp")
    assert result.rc == 0, result.stderr
    assert f"traps: after {NUMBER['cr0wp']}" in texts


def test_hlt_with_interrupts_on_waits_for_the_tick_and_goes_on(traps_ko):
    # a system call runs with interrupts enabled; the timer's interrupt ends the hlt
    result, texts, _kernel = run(traps_ko, "hlt")
    assert result.rc == 0, result.stderr
    assert f"traps: after {NUMBER['hlt']}" in texts


def test_hlt_after_cli_is_a_hang_in_one_line(traps_ko):
    result, texts, kernel = run(traps_ko, "clihlt")
    assert result.rc == 1 and result.stderr.count("\n") == 1
    assert "halts the CPU with interrupts disabled" in result.stderr
    assert "the real kernel would hang here" in result.stderr


def test_a_second_fault_is_a_second_oops_not_a_double_fault():
    # baduser's write() reads the user's buffer directly; each write oopses the same way
    kernel = Kernel(seed=5)
    shell = Shell(kernel, workdir=str(course_module("baduser").parent))
    assert shell.run("insmod baduser.ko").rc == 0
    for _ in range(3):
        result = shell.run("echo hi > /dev/baduser")
        assert result.rc == 137 and result.stderr == ""
    texts = [t.split("] ", 1)[1] for t in kernel.dmesg_lines()]
    firsts = [t for t in texts if t.startswith("BUG: ")]
    assert len(firsts) == 3 and len(set(firsts)) == 1, firsts
    assert not kernel.panicked
    # dumpstack.c __die_header: ++die_counter, one count per oops since boot
    assert [t for t in texts if t.startswith("Oops: ")] == [
        f"Oops: 0001 [#{n}] PREEMPT SMP NOPTI" for n in (1, 2, 3)]


@pytest.mark.parametrize("op, access, function", [
    ("strlen_wild", "read", "strlen"), ("strscpy_wild", "write", "strscpy")])
def test_a_kernel_function_handed_an_unmapped_pointer_oopses_in_itself(traps_ko, op, access,
                                                                       function):
    # arch/x86/mm/fault.c show_fault_oops; the RIP is in the kernel function, as lib/string.c
    # faults there on the real kernel (the address, 4 GiB into the direct map, is past the
    # lab machine's RAM)
    result, texts, kernel = run(traps_ko, op)
    assert result.rc == 137 and not kernel.panicked
    assert "BUG: unable to handle page fault for address: ffff888100000000" in texts
    assert f"#PF: supervisor {access} access in kernel mode" in texts
    error = 2 if access == "write" else 0
    assert f"#PF: error_code(0x{error:04x}) - not-present page" in texts
    assert any(t.startswith(f"RIP: 0010:{function}+0x0/") for t in texts)


def test_a_model_refusing_its_input_is_one_limit_line(traps_ko):
    # kfree() of a pointer no allocator returned: the real kernel's outcome depends on what
    # lies there (slab.c/slub.c), so the simulator says it cannot tell
    result, texts, kernel = run(traps_ko, "kfree_wild")
    assert result.rc == 1 and result.stderr.count("\n") == 1
    assert result.stderr.startswith("kcourse: traps_init+0x") and "kfree(0xffff888100000000)" \
        in result.stderr


@pytest.mark.parametrize("op", ["rsp_nc", "rsp_unmapped"])
def test_a_fault_the_stack_cannot_take_is_a_double_fault_and_a_panic(traps_ko, op):
    # the CPU cannot push the exception frame where RSP points, so it raises #DF on its IST
    # stack; traps.c exc_double_fault: not the guard page, so pr_emerg("PANIC: double fault,
    # error_code: 0x%lx\n") and die("double fault"), in NMI context: oops_end panics
    result, texts, kernel = run(traps_ko, op)
    assert result.rc == 137 and kernel.panicked
    start = texts.index("traps: PANIC: double fault, error_code: 0x0")
    assert texts[start + 1] == "double fault: 0000 [#1] PREEMPT SMP NOPTI"
    assert texts[-3] == "Kernel panic - not syncing: Fatal exception in interrupt"
    assert not any(t.startswith(("BUG: ", "general protection")) for t in texts)


def test_an_sse_instruction_runs_as_on_the_kernels_cpu(traps_ko):
    # fpu__init_cpu_generic (arch/x86/kernel/fpu/init.c) sets CR4.OSFXSR and OSXMMEXCPT, so
    # xorps is no #UD in kernel mode (kernel code brackets it with kernel_fpu_begin/end)
    result, texts, _kernel = run(traps_ko, "sse")
    assert result.rc == 0, result.stderr
    assert f"traps: after {NUMBER['sse']}" in texts


def test_a_write_to_the_kernels_text_is_a_permissions_violation(traps_ko):
    # kernel text is mapped read-only (mark_rodata_ro), and CR0.WP holds ring 0 to it:
    # arch/x86/mm/fault.c show_fault_oops, error code PROT|WRITE; a good module still runs
    # afterwards (run() loads hello), so nothing of the kernel's code was overwritten
    result, texts, kernel = run(traps_ko, "write_ktext")
    assert result.rc == 137 and not kernel.panicked
    first = next(t for t in texts if t.startswith("BUG: "))
    assert first.startswith("BUG: unable to handle page fault for address: ffffffff8")
    assert "#PF: supervisor write access in kernel mode" in texts
    assert "#PF: error_code(0x0003) - permissions violation" in texts


def test_an_endless_loop_of_kernel_calls_is_one_line(traps_ko, monkeypatch):
    # each call into the kernel runs in Python, so the calls are budgeted as well as the
    # instructions (the budget is lowered here to keep the test quick; it is the mechanism)
    from kcourse.machine import machine

    monkeypatch.setattr(machine, "KAPI_BUDGET", 500)
    result, texts, kernel = run(traps_ko, "printk_loop")
    assert result.rc == 1 and result.stderr.count("\n") == 1
    assert result.stderr.startswith("kcourse: traps_init+0x")
    assert "did not return after 500 calls into the kernel, _printk() the last" in \
        result.stderr and "soft lockup" in result.stderr
    assert texts.count("traps: again") == 499
