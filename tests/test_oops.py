"""Oops/WARN/panic texts against kernel/panic.c, lib/dump_stack.c, kernel/module/main.c (6.1),
and what the simulated kernel does with an oops in module code."""

import subprocess
from pathlib import Path

import pytest

from kcourse.kernel import Kernel, oops, uaccess
from kcourse.kernel.kernel import kernel_facts
from kcourse.paths import course_module
from tests.conftest import need

RELEASE = kernel_facts()["release"]


def test_taint_string():
    # kernel/panic.c:469-489 taint_flags[] and :499-520 print_tainted: one column per flag in
    # bit order, P/G first; 19 flags in 6.1 (include/linux/panic.h:73 TAINT_FLAGS_COUNT)
    assert oops.print_tainted(0) == "Not tainted"
    assert oops.print_tainted(oops.taint_mask("OE")) == "Tainted: G" + " " * 11 + "OE" + " " * 5
    assert oops.print_tainted(oops.taint_mask("POE")) == "Tainted: P" + " " * 11 + "OE" + " " * 5
    # D is bit 7, W bit 9
    assert oops.print_tainted(oops.taint_mask("DWOE")) == "Tainted: G      D W  OE     "
    assert oops.taint_mask("OE") == (1 << 12) | (1 << 13)


def test_module_flags():
    oe = oops.taint_mask("OE")
    # kernel/module/main.c:2996-3020: taint letters that are per-module, then - or +
    assert oops.module_flags(oe, "live") == "(OE)"
    assert oops.module_flags(oe, "coming") == "(OE+)"
    assert oops.module_flags(0, "going") == "(-)"
    assert oops.module_flags(0, "live") == ""
    # main.c:3001: with show_state false (delete_module, main.c:765) an untainted module has
    # no flags at all, a tainted one its letters without the state's - or +
    assert oops.module_flags(0, "going", show_state=False) == ""
    assert oops.module_flags(oe, "going", show_state=False) == "(OE)"
    machine = oops.Machine(modules=[("b", oe, "live"), ("a", 0, "live")], last_unloaded="c",
                           last_unloaded_taints="(OE)")
    # main.c:3143-3157 print_modules; the last unloaded module's name and flags kept by
    # delete_module (main.c:764-765) and printed as " [last unloaded: %s%s]" (main.c:3155)
    assert machine.modules_line() == "Modules linked in: b(OE) a [last unloaded: c(OE)]"


def test_last_unloaded_keeps_the_modules_taint_flags():
    """Debian's 6.1.0-56-amd64 under QEMU (-cpu max, so SMAP makes baduser's write oops),
    after `insmod leaker/leaker.ko; rmmod leaker; insmod baduser/baduser.ko` and a write to
    /dev/baduser, printed `Modules linked in: baduser(OE) [last unloaded: leaker(OE)]`; with
    `modprobe dummy; rmmod dummy` (signed, in-tree) instead: `[last unloaded: dummy]`."""
    k = Kernel(seed=0)
    assert k.machine().modules_line() == "Modules linked in:"  # nothing unloaded yet
    k.finit_module(course_module("leaker"))
    k.delete_module("leaker")
    k.finit_module(course_module("baduser"))
    assert k.machine().modules_line() == (
        "Modules linked in: baduser(OE) [last unloaded: leaker(OE)]")


def test_last_unloaded_untainted_module_has_no_flags(debian_modules_dir):
    """The real run of the docstring above, with Debian's dummy unloaded last."""
    from kcourse.lab.prepare import DEBIAN_MODULES
    from kcourse.shell import Shell
    from kcourse.shell.moddir import DebianTreeMissing

    try:
        sh = Shell(debian_tree=DEBIAN_MODULES)
    except DebianTreeMissing as err:  # apt offers another ABI than data/kernel imitates
        need(False, str(err))
    for line in ["modprobe dummy", "rmmod dummy", "insmod baduser/baduser.ko",
                 "echo x > /dev/baduser"]:
        sh.run(line)
    lines = sh.run("dmesg").stdout.splitlines()
    assert [x.split("] ", 1)[1] for x in lines if "Modules linked in" in x] == [
        "Modules linked in: baduser(OE) [last unloaded: dummy]"]


def test_cpu_line():
    machine = oops.Machine(release=RELEASE, taint=oops.taint_mask("OE"))
    # lib/dump_stack.c:58: "CPU: %d PID: %d Comm: %.20s %s%s %s %.*s %s", version cut at the
    # first space, then LINUX_PACKAGE_ID (" Debian 6.1.192-2", note the leading space)
    assert machine.cpu_line(1234, "insmod") == (
        f"CPU: 0 PID: 1234 Comm: insmod Tainted: G           OE      {RELEASE} #1  "
        "Debian 6.1.192-2")


def test_package_id_from_headers():
    package_h = Path(f"/usr/src/linux-headers-{RELEASE}/include/generated/package.h")
    need(package_h.exists(), f"{package_h} is not installed")
    assert f'#define LINUX_PACKAGE_ID "{oops.Machine().package_id}"' in package_h.read_text()


def test_oops_sets_die_taint_and_counts():
    machine = oops.Machine()
    first, panicked = oops.die_lines(machine, "Oops", 1, 1, "cat", "f+0x1/0x2 [m]", [])
    assert not panicked
    assert first[0][1] == "Oops: 0001 [#1] PREEMPT SMP NOPTI"
    assert "Not tainted" in first[1][1]  # TAINT_DIE is added after printing (dumpstack.c:384)
    second, _ = oops.die_lines(machine, "Oops", 1, 1, "cat", "f+0x1/0x2 [m]", [])
    assert second[0][1] == "Oops: 0001 [#2] PREEMPT SMP NOPTI"
    assert "Tainted: G      D            " in second[1][1]
    texts = [t for _, t in first]
    assert texts.index("---[ end trace 0000000000000000 ]---") < len(texts) - 1
    assert texts.count("RIP: 0010:f+0x1/0x2 [m]") == 2  # body + executive summary


def test_warning_text():
    lines = [t for _, t in oops.warning_lines("mm/page_alloc.c:5634", "__alloc_pages", 7, "x")]
    assert lines[0] == "------------[ cut here ]------------"
    assert lines[1].startswith("WARNING: CPU: 0 PID: 7 at mm/page_alloc.c:5634 __alloc_pages+")
    assert lines[2] == "Modules linked in:"  # __warn: print_modules right after (panic.c:675)
    assert lines[-1] == "---[ end trace 0000000000000000 ]---"


@pytest.fixture
def crashing_hello():
    class Crash:
        def init(self, ctx):
            raise uaccess.deref_oops(uaccess.UserMemory(), 0, "hello_init+0x10/0x40 [hello]",
                                     machine=ctx.kernel.machine(), comm="insmod")

    return Kernel(seed=0, behaviors={"hello": Crash()})


def test_oops_in_init_leaves_module_stuck(crashing_hello):
    k = crashing_hello
    with pytest.raises(Exception, match="Killed"):
        k.finit_module(course_module("hello"))
    # the init reference (main.c:552) is never dropped and the state stays COMING:
    # /proc/modules shows "Loading" and the (+) flag (main.c:3012)
    assert k.read_file("/proc/modules").startswith("hello ")
    fields = k.read_file("/proc/modules").split()
    assert fields[2] == "1" and fields[4] == "Loading" and fields[6] == "(OE+)"
    with pytest.raises(Exception) as refused:
        k.delete_module("hello")
    assert refused.value.errno == 16  # EBUSY: delete_module refuses a module not LIVE
    tainted = int(k.read_file("/proc/sys/kernel/tainted"))
    assert tainted & (1 << 7)  # TAINT_DIE
    dmesg = [line.split("] ", 1)[1] for line in k.dmesg_lines()]
    assert "BUG: kernel NULL pointer dereference, address: 0000000000000000" in dmesg
    assert "Modules linked in: hello(OE+)" in dmesg


# ------------------------------------------------------------------ where a module faults
def _objdump(*args: str, ko: Path) -> str:
    from tests.conftest import need_tool

    tool = need_tool("objdump")
    return subprocess.run([tool, *args, str(ko)], capture_output=True, text=True,
                          check=True).stdout


def _disassembly_of(section: str, ko: Path) -> str:
    text = _objdump("-d", ko=ko)
    start = text.index(f"Disassembly of section {section}:")
    end = text.find("Disassembly of section", start + 1)
    return text[start:end if end > 0 else None]


def test_baduser_faults_on_its_own_read_of_buf0():
    """The emulated CPU stops where the module's code really faults; binutils says what sits
    there: baduser_write.cold+0x1, the movzbl from (%rsi), buf being write()'s second argument.
    """
    ko = course_module("baduser")
    need(ko.exists(), "baduser.ko is not built")
    result, _ = _baduser_oops("echo hi > /dev/baduser")
    assert any(x == "RIP: 0010:baduser_write.cold+0x1/0x1e [baduser]" for x in result.dmesg)
    block = _disassembly_of(".text.unlikely", ko)
    assert "0000000000000000 <baduser_write.cold>:" in block
    line = next(x for x in block.splitlines() if x.strip().startswith("1:"))
    assert "movzbl (%rsi),%esi" in line
    rsi = next(x for x in result.dmesg if " RSI: " in x).split(" RSI: ")[1].split()[0]
    assert int(rsi, 16) == 0x55D0C4A3B2A0  # bash's heap buffer (echo is a builtin)


def _baduser_oops(line: str, job_control: bool = False):
    from kcourse.shell import Shell

    need(course_module("baduser").exists(), "baduser.ko is not built")
    sh = Shell(job_control=job_control)
    assert sh.run("insmod baduser/baduser.ko").rc == 0
    text_unlikely = int(sh.run("cat /sys/module/baduser/sections/.text.unlikely").stdout, 16)
    return sh.run(line), text_unlikely


def test_baduser_oops_names_the_caller_the_function_and_hides_the_prologue():
    """The real kernel (tests/scenarios/lab_oops.expected, recorded under QEMU) prints
    Comm: cat, RIP baduser_write.cold+0x1/0x1e and no code bytes: kallsyms.c:262-315 sizes
    the symbol up to the next one (.exit.text's cleanup_module right after it), and
    dumpstack.c:113-135 reads from ip - 42, which lies in the page before the module's
    vmalloc area (mm/vmalloc.c:2567: a guard page follows every area)."""
    result, text_unlikely = _baduser_oops("echo hi | cat > /dev/baduser")
    assert (result.stdout, result.stderr, result.rc) == ("", "", 137)
    log = list(result.dmesg)
    cpu = next(x for x in log if x.startswith("CPU: "))
    assert " Comm: cat Tainted: G           OE      " in cpu
    ip = text_unlikely + 0x1
    assert log[log.index(cpu) + 2:log.index(cpu) + 4] == [
        "RIP: 0010:baduser_write.cold+0x1/0x1e [baduser]",
        f"Code: Unable to access opcode bytes at 0x{ip - 42:x}."]
    # CR2 in the register dump is show_opcodes' own failed read (real: CR2: ffffffffc0200fec,
    # the Code: address); the summary line after the trace keeps the fault's address
    assert sum(f"CR2: {ip - 42:016x} CR3: " in x for x in log) == 2
    assert f"CR2: {0x7F3C1A2C3000:016x}" in log
    # buf, in %rsi: cat's page-aligned read buffer (the real one: RSI: 00007f119f78c000)
    assert any(f" RSI: {0x7F3C1A2C3000:016x} " in x for x in log)


def test_a_builtin_writing_to_the_device_is_bash_itself():
    """`echo hi > /dev/baduser`: echo is a bash builtin, the write is bash's own (no fork)."""
    result, _ = _baduser_oops("echo hi > /dev/baduser")
    cpu = next(x for x in result.dmesg if x.startswith("CPU: "))
    assert " Comm: bash " in cpu


def test_code_line_shows_the_module_bytes_when_the_window_is_mapped():
    """dumpstack.c:121-126: 42 bytes, <the byte at ip>, 21 more. kcdev's .text is 0xa0
    bytes, so a fault 0x40 into it has its whole window in .text: the bytes are the file's
    (objdump -s), relocated fields aside (they keep their file value in the model)."""
    import re

    from kcourse.kernel import faultsite

    ko = course_module("kcdev")
    need(ko.exists(), "kcdev.ko is not built")
    dump = _objdump("-s", "-j", ".text", ko=ko)
    data = bytes.fromhex("".join("".join(m.group(1).split()) for m in
                                 re.finditer(r"^ [0-9a-f]{4} ((?:[0-9a-f]{2,8} ?){1,4})",
                                             dump, re.M)))
    kernel = Kernel(seed=0)
    kernel.finit_module(str(ko))
    mod = kernel.find_module("kcdev")
    ip = faultsite.section_address(mod, ".text") + 0x40
    window = data[0x40 - 42:0x40 + 22]
    assert len(window) == 64
    assert faultsite.code_line(mod, ip) == (
        "Code: " + " ".join(f"{b:02x}" for b in window[:42]) + f" <{window[42]:02x}> " +
        " ".join(f"{b:02x}" for b in window[43:]))
    # ...and 42 bytes back from the start of .text is the page before the module: unreadable
    assert faultsite.code_line(mod, ip - 0x40).startswith("Code: Unable to access")


# ------------------------------------------------------------------ what bash says
BASH_NOISE = ("cannot set terminal process group", "no job control in this shell",
              "tcsetattr")


def _bash(*args: str) -> tuple[str, str]:
    from tests.conftest import need_tool

    bash = need_tool("bash")
    proc = subprocess.run([bash, *args], capture_output=True, text=True, check=False,
                          stdin=subprocess.DEVNULL, env={"PATH": "/usr/bin:/bin", "TERM": "dumb"})
    err = "".join(x for x in proc.stderr.splitlines(True)
                  if not any(n in x for n in BASH_NOISE))
    return proc.stdout, err


def test_the_shell_says_what_the_labs_bash_says_of_a_killed_pipeline():
    """bash 5.2 jobs.c notify_of_job_status, seen with the host's bash: interactive without
    job control (the lab's `bash -i` on a file) says nothing of a job killed by SIGKILL;
    non-interactive (`bash -c`) says "line 1: PID Killed"; the status is 128 + 9 in both.
    The simulator's shell imitates the lab's; Shell(job_control=True) a terminal's."""
    line = 'echo hi | sh -c "kill -9 \\$\\$"; echo $?'
    assert _bash("--norc", "--noprofile", "-i", "-c", line) == ("137\n", "")
    out, err = _bash("-c", line)
    assert out == "137\n" and "Killed" in err
    result, _ = _baduser_oops("echo hi | cat > /dev/baduser")
    assert (result.stderr, result.rc) == ("", 137)
    result, _ = _baduser_oops("echo hi | cat > /dev/baduser", job_control=True)
    assert (result.stderr, result.rc) == ("Killed\n", 137)
