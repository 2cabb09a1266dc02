"""Oops/WARN/panic texts against kernel/panic.c, lib/dump_stack.c, kernel/module/main.c (6.1),
and what the simulated kernel does with an oops in module code."""

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
