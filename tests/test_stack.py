"""Kernel vs user stacks: sizes, frames, and the reports an overflow gives (Linux 6.1)."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from kcourse.kernel import oops, stack
from kcourse.kernel.kernel import kernel_facts
from kcourse.paths import modules_dir
from kcourse.userspace import STK_LIM
from tests.conftest import need, need_tool

RELEASE = kernel_facts()["release"]  # 6.1.0-NN-amd64, the headers data/ was built with
HEADERS = Path(f"/usr/src/linux-headers-{RELEASE}")
COMMON = Path(f"/usr/src/linux-headers-{RELEASE.removesuffix('-amd64')}-common")


def test_thread_size_by_version():
    # arch/x86/include/asm/page_64_types.h:15-16: PAGE_SIZE << (2 + KASAN_STACK_ORDER);
    # 8 KiB (THREAD_ORDER 1) before "x86_64: expand kernel stack to 16K" in 3.15
    assert stack.thread_size("6.1") == 16384
    assert stack.thread_size("3.15") == 16384
    assert stack.thread_size("3.14") == 8192
    assert stack.thread_size("6.1", kasan=True) == 32768
    assert kernel_facts()["thread_size"] == stack.thread_size("6.1")


def test_thread_size_from_the_headers():
    header = COMMON / "arch/x86/include/asm/page_64_types.h"
    need(header.exists(), "Debian 6.1 kernel headers are not installed")
    text = header.read_text()
    assert "#define THREAD_SIZE_ORDER\t(2 + KASAN_STACK_ORDER)" in text
    assert "#define KASAN_STACK_ORDER 0" in text


def test_frame_sizes_match_gcc():
    # data/modules/stackhog/build-warnings.txt is gcc 12.2's output for a 16000-byte array
    warning = (modules_dir() / "stackhog" / "build-warnings.txt").read_text()
    measured = int(re.search(r"frame size of (\d+) bytes", warning).group(1))
    assert stack.frame_size(16000) == measured == 16008
    assert stack.frame_size(20000) == 20008
    assert stack.frame_warning("stackhog.c", 50, 16008) == (
        "stackhog.c:50:1: warning: the frame size of 16008 bytes is larger than 2048 bytes "
        "[-Wframe-larger-than=]")
    assert stack.frame_warning("x.c", 1, 2048) is None  # CONFIG_FRAME_WARN=2048: > warns


@pytest.mark.tools
def test_frame_size_of_a_real_build(tmp_path):
    need(HEADERS.exists(), f"{HEADERS} is not installed")
    need_tool("make")
    need_tool("gcc")
    (tmp_path / "hog.c").write_text(
        "#include <linux/module.h>\n#include <linux/string.h>\n"
        "static int fill = 0x5a;\nmodule_param(fill, int, 0444);\n"
        "static noinline int hog(void)\n{\n\tchar buf[20000];\n\n"
        "\tmemset(buf, fill, sizeof(buf));\n\tbarrier_data(buf);\n\treturn buf[fill];\n}\n"
        "static int __init hog_init(void) { return hog() == 1; }\n"
        "module_init(hog_init);\nMODULE_LICENSE(\"GPL\");\n")
    (tmp_path / "Kbuild").write_text("obj-m := hog.o\n")
    build = subprocess.run(["make", "-C", str(HEADERS), f"M={tmp_path}", "modules"],
                           capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr
    assert f"hog.c:12:1: warning: the frame size of {stack.frame_size(20000)} bytes is " \
           "larger than 2048 bytes [-Wframe-larger-than=]" in build.stderr
    objdump = shutil.which("objdump")
    if objdump:
        dis = subprocess.run([objdump, "-d", str(tmp_path / "hog.o")], capture_output=True,
                             text=True).stdout
        assert f"sub    ${stack.frame_size(20000):#x},%rsp" in dis


def test_20000_bytes_jump_past_the_guard_page():
    run = stack.run_kernel([("hog_init", 8), ("hog", stack.frame_size(20000))])
    assert not run.ok and run.outcome == "double-fault" and run.panicked
    lines = run.text.splitlines()
    # arch/x86/kernel/traps.c:551-552: not in the guard page -> plain double fault
    assert lines[0] == "traps: PANIC: double fault, error_code: 0x0"  # traps.c pr_fmt
    assert lines[1] == "double fault: 0000 [#1] PREEMPT SMP NOPTI"  # dumpstack.c:426
    # the #DF handler ran as an NMI-like entry: oops_end panics "in interrupt" (dumpstack.c:398)
    assert lines[-3] == "Kernel panic - not syncing: Fatal exception in interrupt"
    assert lines[-1] == "---[ end Kernel panic - not syncing: Fatal exception in interrupt ]---"


def test_16000_bytes_hit_the_guard_page():
    run = stack.run_kernel([("do_one_initcall", 0x60), ("stackhog_init", 0x10),
                            ("stackhog_fill", stack.frame_size(16000))])
    assert run.outcome == "guard-page" and run.size == 16384
    lines = run.text.splitlines()
    # traps.c:408 "BUG: %s stack guard page was hit at %p (stack is %p..%p)", name "TASK"
    # (dumpstack_64.c:35-36), %p hashed to 16 hex digits
    assert re.fullmatch(r"BUG: TASK stack guard page was hit at [0-9a-f]{16} "
                        r"\(stack is [0-9a-f]{16}\.\.[0-9a-f]{16}\)", lines[0])
    assert lines[1] == "stack guard page: 0000 [#1] PREEMPT SMP NOPTI"  # traps.c:411


def test_small_frames_fit():
    run = stack.run_kernel([("hello_init", 0x20)])
    assert run.ok and run.outcome == "ok" and run.lines == []
    assert run.deepest < 16384


def test_same_code_in_user_space_is_fine():
    frames = [("main", 48), ("hog", stack.frame_size(20000))]
    run = stack.run_user(frames)
    assert run.ok and run.size == STK_LIM
    over = stack.run_user([("main", 48), ("huge", 9 * 1024 * 1024)])
    assert over.outcome == "segfault" and "segfault at" in over.text
    # show_signal_msg (arch/x86/mm/fault.c, 6.1): ip lies in the mapping print_vma_addr names,
    # error 6 = user-mode write (trap_pf.h), sp 16-byte aligned (x86-64 psABI 3.2.2)
    m = re.search(r"ip ([0-9a-f]{16}) sp ([0-9a-f]{16}) error 6 "
                  r"in a\.out\[([0-9a-f]+)\+([0-9a-f]+)\]", over.text)
    ip, sp, start, size = (int(g, 16) for g in m.groups())
    assert start <= ip < start + size and sp % 16 == 0


def test_report_goes_through_machine_taint():
    machine = oops.Machine(taint=oops.taint_mask("OE"),
                           modules=[("stackhog", oops.taint_mask("OE"), "coming")])
    run = stack.run_kernel([("stackhog_fill", 20000)], machine=machine)
    assert "Modules linked in: stackhog(OE+)" in run.text.splitlines()
    assert machine.taint & (1 << oops.TAINT_DIE)
