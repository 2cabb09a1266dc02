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
    machine = oops.Machine(modules=[("b", oe, "live"), ("a", 0, "live")], last_unloaded="c")
    # main.c:3143-3157 print_modules
    assert machine.modules_line() == "Modules linked in: b(OE) a [last unloaded: c]"


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
