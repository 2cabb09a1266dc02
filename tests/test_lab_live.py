"""A live guest driven by the host, without QEMU: tests/fake_qemu.py stands in for the guest.

It speaks the console protocol (kcourse/lab/guest.py) as the guest's bash does, so these tests
pin the host's side: lines and files sent, state kept between runs, one-line failures, a fresh
guest after one, and no process left behind. What the real kernel says is checked in
tests/test_lab_live_real.py.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from kcourse.errors import KcourseError
from kcourse.lab import cpio, live
from kcourse.lab.prepare import Lab
from kcourse.lab.runner import RealKernel
from kcourse.lab.session import RealShell

FAKE = Path(__file__).with_name("fake_qemu.py")


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """A fake lab and $KCOURSE_QEMU pointing at the protocol-speaking fake."""
    wrapper = tmp_path / "qemu-system-x86_64"
    wrapper.write_text(f"#!/bin/sh\nexec {sys.executable} {FAKE} \"$@\"\n")
    wrapper.chmod(0o755)
    monkeypatch.setenv("KCOURSE_QEMU", str(wrapper))
    base = tmp_path / "base.cpio"
    base.write_bytes(cpio.archive([cpio.directory("x")]))
    return Lab("6.1.0-0-amd64", tmp_path / "vmlinux", base, {}, {})


def gone(pid: int, within: float = 5.0) -> bool:
    """True once no process `pid` runs any more (reaped, or a zombie of someone else's)."""
    end = time.monotonic() + within
    while True:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state == "Z":
            return True
        if time.monotonic() >= end:
            return False
        time.sleep(0.05)


def test_state_and_log_carry_over_between_runs(fake):
    with RealKernel(lab=fake, timeout=20).boot() as guest:
        first = guest.run(["log hello: loaded", "echo one"])
        second = guest.run(["echo two", "log hello: goodbye", "fail"])
    assert [r.stdout for r in first] == ["", "one\n"]
    assert first[0].dmesg == ("hello: loaded",) and first[1].dmesg == ()
    # The second run's log diff starts from the first run's last snapshot: no replay.
    assert [r.dmesg for r in second] == [(), ("hello: goodbye",), ()]
    assert (second[2].rc, second[2].stderr) == (1, "no\n")
    assert not guest.alive


def test_files_sent_to_a_running_guest_arrive_byte_for_byte(fake):
    data = bytes(range(256)) * 4 + b"\r\n\x03\x1b[0m"
    with RealKernel(lab=fake, timeout=20).boot() as guest:
        text = guest.run(["cat /tmp/x/a.txt"], {"/tmp/x/a.txt": b"caf\xc3\xa9\n"})
        assert text[0].stdout == "café\n"
        # the fake keeps the raw bytes; the real guest is checked with md5sum
        guest.run(["echo ok"], {"/tmp/bin": data})
        # a large file that packs well goes gzip-compressed (the fake unpacks it as busybox's
        # gunzip would; the real guest is checked in test_lab_live_real)
        big = b"".join(b"line %d of a big text\n" % i for i in range(5000))
        sent = []
        real_send = guest._send
        guest._send = lambda data, deadline: (sent.append(len(data)), real_send(data,
                                                                                 deadline))[1]
        assert guest.run(["cat /tmp/big"], {"/tmp/big": big})[0].stdout == big.decode()
        assert max(sent) < len(big) // 3
        with pytest.raises(KcourseError, match="bad guest file name"):
            guest.run(["echo never"], {"../x": b""})
        assert guest.run(["echo still up"])[0].stdout == "still up\n"


def test_lines_the_protocol_cannot_carry_are_refused_before_anything_runs(fake):
    with RealKernel(lab=fake, timeout=20).boot() as guest:
        with pytest.raises(KcourseError, match="NUL byte"):
            guest.run(["log never", "echo a\0b"])
        assert guest.run(["echo still"])[0].dmesg == ()  # `log never` did not run


@pytest.mark.parametrize("command,said", [
    ("panic", r"panicked \(Kernel panic - not syncing: fake panic\) while running line 2: panic"),
    ("exit", r"stopped: the shell exited while running line 2: exit"),
    ("hang", r"did not answer within 1 s while running line 2: hang"),
])
def test_a_failing_guest_is_one_line_then_a_fresh_one(fake, command, said):
    shell = RealShell(RealKernel(lab=fake, timeout=20))
    shell.run_script("echo before")
    first = shell.guest
    shell.kernel.timeout = 1 if command == "hang" else 20  # for the lines, not the boot
    fresh = "; the next cell starts a fresh guest$"
    with pytest.raises(live.GuestError, match=said + fresh) as caught:
        shell.run_script(f"echo one\n{command}\necho never")
    assert [r.stdout for r in caught.value.results] == ["one\n"]
    assert gone(first.pid) and shell.guest is None
    shell.kernel.timeout = 20
    assert shell.run_script("echo after")[0].stdout == "after\n"
    notice = shell.take_notice()
    assert notice.startswith("a fresh guest was booted (the last one ") and command in notice
    assert shell.take_notice() is None and shell.guest is not first
    shell.close()


def test_boot_that_never_answers_is_killed(fake, monkeypatch, tmp_path):
    hung = tmp_path / "hung-qemu"
    hung.write_text("#!/bin/sh\necho 'SeaBIOS (version fake)'\nexec sleep 60\n")
    hung.chmod(0o755)
    monkeypatch.setenv("KCOURSE_QEMU", str(hung))
    with pytest.raises(live.GuestError,
                       match=r"^the guest did not answer within 0.5 s before the shell started: "
                             r"SeaBIOS \(version fake\)$"):
        RealKernel(lab=fake, timeout=0.5).boot()


def test_reset_reboots_and_background_start_is_joined(fake):
    shell = RealShell(RealKernel(lab=fake, timeout=20))
    shell.start()
    shell.run_script("log x: one")
    booted = shell.guest
    shell.reset()
    assert gone(booted.pid) and shell.guest is None
    assert shell.run_script("echo b") and shell.guest is not booted
    assert shell.take_notice() is None  # a reset is asked for: nothing to say
    shell.close()


def test_close_kills_the_whole_process_group(fake):
    guest = RealKernel(lab=fake, timeout=20).boot()
    child = int(guest.run(["child"])[0].stdout)
    guest.close()
    assert gone(guest.pid) and gone(child)


OWNER = textwrap.dedent("""
    import os, signal, sys
    from kcourse.lab import cpio
    from kcourse.lab.prepare import Lab
    from kcourse.lab.runner import RealKernel
    from kcourse.lab.session import RealShell
    base = sys.argv[1] + "/base.cpio"
    open(base, "wb").write(cpio.archive([cpio.directory("x")]))
    lab = Lab("6.1.0-0-amd64", sys.argv[1] + "/vmlinux", base, {}, {})
    shell = RealShell(RealKernel(lab=lab, timeout=20))
    shell.run_script("echo up")
    print(shell.guest.pid, flush=True)
    how = sys.argv[2]
    if how == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    if how == "exception":
        raise SystemExit("boom")
""")


@pytest.mark.parametrize("how", ["exit", "exception", "sigkill"])
def test_no_guest_outlives_its_process(fake, tmp_path, how):
    """A notebook's kernel that exits, fails, or is killed (SIGKILL: no atexit) leaves no
    QEMU behind: atexit finalizers, and the death signal setpriv arranges."""
    proc = subprocess.run([sys.executable, "-c", OWNER, str(tmp_path), how],
                          capture_output=True, text=True, timeout=60, env=os.environ)
    pid = int(proc.stdout.split()[0])
    assert proc.returncode == {"exit": 0, "exception": 1, "sigkill": -signal.SIGKILL}[how]
    try:
        assert gone(pid), f"the guest's QEMU ({pid}) outlived its owner ({how})"
    finally:
        if not gone(pid, within=0):
            os.kill(pid, signal.SIGKILL)  # ours: the fake this test started


def test_a_dropped_guest_is_stopped(fake):
    guest = RealKernel(lab=fake, timeout=20).boot()
    pid = guest.pid
    del guest  # the finalizer runs when the last reference goes
    assert gone(pid)


def test_kshell_real_cells_share_the_guest_and_say_when_it_was_replaced(fake, capsys,
                                                                         monkeypatch):
    from IPython.testing.globalipapp import get_ipython

    from kcourse import magic

    ip = get_ipython()
    ip.run_line_magic("load_ext", "kcourse.magic")
    capsys.readouterr()  # "already loaded" when another test of the session loaded it first
    shell = RealShell(RealKernel(lab=fake, timeout=20))
    monkeypatch.setattr(magic, "_REAL", shell)

    def cell(text: str) -> tuple[str, str]:
        ip.run_cell_magic("kshell", "--real", text)
        return capsys.readouterr()

    assert cell("log hello: loaded\necho one\n") == ("# log hello: loaded\n# echo one\none\n", "")
    booted = shell.guest
    out, err = cell("echo two\npanic\necho never\n")
    assert out == "# echo two\ntwo\n"  # the lines that finished, then the one-line report
    assert err == ("%%kshell: the guest panicked (Kernel panic - not syncing: fake panic) while "
                   "running line 2: panic; the next cell starts a fresh guest\n")
    assert cell("echo three\n") == ("# echo three\nthree\n", (
        "%%kshell: a fresh guest was booted (the last one panicked (Kernel panic - not "
        "syncing: fake panic) while running line 2: panic)\n"))
    assert shell.guest is not booted and gone(booted.pid)
    assert cell("echo four\n") == ("# echo four\nfour\n", "")  # said once
    ip.run_cell_magic("kshell", "--real --new", "echo five\n")
    assert capsys.readouterr().err == ""
    shell.close()


def test_a_dropped_shell_stops_its_guest(fake):
    shell = RealShell(RealKernel(lab=fake, timeout=20))
    shell.run_script("echo up")
    pid = shell.guest.pid
    del shell  # a notebook's backend object going away
    assert gone(pid)
