"""A live guest on Debian's real 6.1 kernel under QEMU (kcourse.lab.session.RealShell): what
one call loads the next one sees, no line is replayed, files reach a running guest intact, a
panic in a module's init is one line and the next call gets a fresh kernel, and no QEMU
outlives its owner.

Expected texts come from the real kernel (tests/scenarios/openfile.expected, recorded on
6.1.0-56 in one boot; ../shared/notes/real-kernel-lab.md) or the kernel source (cited). Needs
qemu-system-x86_64 and the lab's Debian packages (under CI, KCOURSE_REQUIRE_REAL=1, their
absence fails the tests instead of skipping them).
"""

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from test_lab_live import gone

from kcourse.backend import format_transcript
from kcourse.lab.compare import normalise

SCENARIOS = Path(__file__).parent / "scenarios"


@pytest.fixture(scope="module")
def shell(lab):
    from kcourse.lab import RealKernel
    from kcourse.lab.session import RealShell

    shell = RealShell(RealKernel(lab=lab, timeout=180))
    yield shell
    shell.close()


def test_a_scenario_split_over_three_calls_is_the_one_boot_transcript(shell):
    """openfile.sh in three calls on one guest: the module loaded in the first and the file
    opened by `exec 3<` are still there in the next, and each command's own kernel log
    lines are the ones the scenario's closing `dmesg -c` lists (recorded in one boot)."""
    lines = [x for x in (SCENARIOS / "openfile.sh").read_text().splitlines()
             if x and not x.startswith("#")]
    cut1, cut2 = lines.index("lsmod", 2), lines.index("cat /dev/kcdev")
    # drivers/char/random.c: boot_id is random, made once per boot; a replaying shell
    # (a new boot per call) would read a new one each time.
    boot_id = "cat /proc/sys/kernel/random/boot_id"
    results, boots = [], set()
    for part in (lines[:cut1], lines[cut1:cut2], lines[cut2:]):
        got = shell.run_script("\n".join([*part, boot_id]))
        assert [r.line for r in got] == [*part, boot_id]  # only the call's own lines
        boots.add(got.pop().stdout)
        results += got
    assert len(boots) == 1
    expected = "".join(x for x in (SCENARIOS / "openfile.expected").read_text()
                       .splitlines(True) if not x.startswith("#|"))
    assert normalise(format_transcript(results)) == expected
    caused = {r.line: r.dmesg for r in results[:6]}  # up to the refused rmmod
    caused.update({r.line: r.dmesg for r in results[7:10]})
    assert caused["insmod kcdev/kcdev.ko"] == (
        "kcdev: loading out-of-tree module taints kernel.",
        "kcdev: module verification failed: signature and/or required key missing - "
        "tainting kernel",
        "kcdev: /dev/kcdev registered")
    assert caused["exec 3</dev/kcdev"] == ("kcdev: open, refcnt=1",)
    assert caused["cat /dev/kcdev"] == ("kcdev: open, refcnt=2", "kcdev: release")
    assert caused["exec 3<&-"] == ("kcdev: release",)
    assert results[6].line == "rmmod kcdev" and results[6].dmesg == ()  # refused
    assert results[10].line == "rmmod kcdev"
    assert results[10].dmesg == ("kcdev: /dev/kcdev removed",)


def test_files_reach_a_running_guest_byte_for_byte(shell, tmp_path):
    from kcourse.lab.tamper import make_course_copies

    blob = tmp_path / "blob.bin"
    blob.write_bytes(os.urandom(20000) + bytes(range(256)) + b"\r\n\x03\x11\x13\x1b")
    got = shell.run_script("md5sum /tmp/blob.bin", files={"/tmp/blob.bin": blob})
    assert got[0].stdout == f"{hashlib.md5(blob.read_bytes()).hexdigest()}  /tmp/blob.bin\n"
    # a file that packs well crosses the console gzip-compressed; it must land unchanged
    text = tmp_path / "big.txt"
    text.write_bytes(b"".join(b"%d\r\n\x03\x11\x13 text\n" % i for i in range(20000)))
    got = shell.run_script("md5sum /tmp/big.txt", files={"/tmp/big.txt": text})
    assert got[0].stdout == f"{hashlib.md5(text.read_bytes()).hexdigest()}  /tmp/big.txt\n"
    # A host .ko named by absolute path is copied in (kcourse.lab.runner.host_files); only the
    # release part of its vermagic differs, so it loads (note: "editing only the release part
    # of vermagic still loads").
    copy = make_course_copies() / "hello-release.ko"
    loaded = shell.run_script(f"insmod {copy}\nrmmod hello")
    assert [r.rc for r in loaded] == [0, 0]
    assert "hello: hello, world (count=1)" in loaded[0].dmesg


def test_a_panic_in_init_is_one_line_and_the_next_call_boots_a_fresh_kernel(shell):
    """stackhog's init overflows its 16 KiB stack into the guard page (stackhog.c): a double
    fault, oops_end in interrupt context (arch/x86/kernel/dumpstack.c: `if (in_interrupt())
    panic("Fatal exception in interrupt")`); panic=-1 and -no-reboot end QEMU."""
    from kcourse.lab.live import GuestError

    shell.run_script("insmod hello/hello.ko")
    with pytest.raises(GuestError) as caught:
        shell.run_script("lsmod\ninsmod stackhog/stackhog.ko\nlsmod")
    assert str(caught.value) == (
        "the guest panicked (Kernel panic - not syncing: Fatal exception in interrupt) while "
        "running line 2: insmod stackhog/stackhog.ko; the next cell starts a fresh guest")
    assert [r.line for r in caught.value.results] == ["lsmod"]
    assert "hello" in caught.value.results[0].stdout
    # the console kept the oops's last lines (KERN_EMERG ones, which loglevel=1 lets through)
    assert any("RIP: 0010:stackhog_fill" in x for x in caught.value.console)
    fresh = shell.run_script("lsmod\ncat /proc/sys/kernel/tainted")
    assert fresh[0].stdout == "Module                  Size  Used by\n"  # hello is gone
    assert fresh[1].stdout == "0\n"
    assert shell.take_notice().startswith("a fresh guest was booted (the last one panicked")


def test_no_qemu_outlives_a_killed_owner(lab):
    """The notebook's kernel killed outright (SIGKILL: no atexit, no finalizer): the death
    signal setpriv arranged ends QEMU, which would otherwise run on."""
    owner = textwrap.dedent("""
        import os, signal
        from kcourse.lab import prepare_lab, RealKernel
        from kcourse.lab.session import RealShell
        shell = RealShell(RealKernel(lab=prepare_lab(), timeout=180))
        print(shell.run_script("uname -r")[0].stdout.strip(), shell.guest.pid, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", owner], capture_output=True, text=True,
                          timeout=300, env=os.environ)
    release, pid = proc.stdout.split()
    assert release == lab.release and proc.returncode == -signal.SIGKILL
    try:
        assert gone(int(pid)), "QEMU outlived the process that started it"
    finally:
        if not gone(int(pid), within=0):
            os.kill(int(pid), signal.SIGKILL)  # ours: the guest this test started
