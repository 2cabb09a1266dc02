"""Guests started from a saved boot (kcourse.lab.snapshot) are fresh boots.

The reference is a real boot of Debian's kernel: the same script, with files at boot, run in
a guest booted with snapshots off (KCOURSE_LAB_SNAPSHOT=0) and in one started from the saved
guest, gives the same transcript, masked as every lab comparison is (kcourse.lab.compare).
A snapshot QEMU cannot load is deleted and the guest boots. Needs qemu-system-x86_64 (under
CI, KCOURSE_REQUIRE_REAL=1 makes its absence a failure).
"""

from pathlib import Path

import pytest

from kcourse.backend import format_transcript
from kcourse.errors import KcourseError
from kcourse.lab import live, snapshot
from kcourse.lab.compare import normalise
from kcourse.lab.prepare import Lab, check_qemu

SCRIPT = [
    "cat /proc/sys/kernel/tainted",
    "lsmod",
    "cat /tmp/given/note.txt",
    "insmod hello/hello.ko whom=snapshot count=2",
    "cat /proc/modules",
    "ls /sys/module/hello/parameters",
    "rmmod hello",
    "dmesg",
    "cat /proc/cmdline",
    "ls /tmp",
]
FILES = {"/tmp/given/note.txt": b"a file given at boot\n"}


def run(lab, monkeypatch, enabled: bool) -> tuple[str, bool]:
    monkeypatch.setenv("KCOURSE_LAB_SNAPSHOT", "1" if enabled else "0")
    with live.Guest(check_qemu(), lab, files=FILES, timeout=180) as guest:
        text = normalise(format_transcript(guest.run(SCRIPT)))
        return text, guest.restored


def test_a_restored_guest_shows_what_a_booted_one_shows(lab, monkeypatch):
    booted, restored_flag = run(lab, monkeypatch, enabled=False)
    assert not restored_flag
    run(lab, monkeypatch, enabled=True)  # saves the guest, unless a snapshot was there
    restored, restored_flag = run(lab, monkeypatch, enabled=True)
    assert restored_flag
    assert restored == booted
    assert "hello: hello, snapshot (count=2)" in restored  # the module really ran


def test_a_snapshot_qemu_cannot_load_is_deleted_and_the_guest_boots(lab, monkeypatch):
    monkeypatch.setenv("KCOURSE_LAB_SNAPSHOT", "1")
    qemu = check_qemu()
    digest = live.Guest._snapshot_key(qemu, lab, live.CMDLINE, 1)
    assert digest is not None
    bad = Path(lab.kernel).parent / f"{snapshot.PREFIX}{digest}-0badc0ffee.state"
    bad.write_bytes(b"QEVM\0\0\0\3 not a migration stream" * 100)  # the newest: tried first
    try:
        assert snapshot.find(lab, digest).state == bad
        with live.Guest(qemu, lab, timeout=180) as guest:
            assert not guest.restored
            assert guest.run(["uname -r"])[0].stdout == f"{lab.release}\n"
        assert not bad.exists()
    finally:
        bad.unlink(missing_ok=True)


def test_a_snapshot_whose_guest_does_not_answer_is_deleted_and_the_guest_boots(lab,
                                                                               monkeypatch):
    """A stream QEMU loads, but whose shell answers with another token than its name says
    (a copy of the real snapshot under a wrong name): the first line gets no answer, so the
    file goes and the guest boots."""
    import shutil

    monkeypatch.setenv("KCOURSE_LAB_SNAPSHOT", "1")
    qemu = check_qemu()
    digest = live.Guest._snapshot_key(qemu, lab, live.CMDLINE, 1)
    with live.Guest(qemu, lab, timeout=180):
        pass  # a snapshot exists from here on
    good = snapshot.find(lab, digest)
    wrong = good.state.with_name(f"{snapshot.PREFIX}{digest}-0123456789abcdef.state")
    shutil.copyfile(good.state, wrong)  # the newest: tried first
    try:
        with live.Guest(qemu, lab, timeout=180) as guest:
            assert not guest.restored
            assert guest.run(["uname -r"])[0].stdout == f"{lab.release}\n"
        assert not wrong.exists()
    finally:
        wrong.unlink(missing_ok=True)


def test_a_bad_file_name_is_refused_before_qemu_starts(lab, monkeypatch):
    monkeypatch.setenv("KCOURSE_LAB_SNAPSHOT", "1")
    with pytest.raises(KcourseError, match="bad guest file name"):
        live.Guest(check_qemu(), lab, files={"../escape": b"x"})


def test_only_the_default_guest_is_saved(tmp_path, monkeypatch):
    """Two CPUs or another command line boot every time; so does a lab whose files are
    missing, and snapshots turned off."""
    (tmp_path / "vmlinux").write_bytes(b"kernel")
    (tmp_path / "base.cpio").write_bytes(b"archive")
    fake = Lab("6.1.0-0-amd64", tmp_path / "vmlinux", tmp_path / "base.cpio", {}, {})
    qemu = "/bin/sh"  # any file: the key only reads its size and time
    monkeypatch.setenv("KCOURSE_LAB_SNAPSHOT", "1")
    key = live.Guest._snapshot_key
    assert key(qemu, fake, live.CMDLINE, 1) is not None
    assert key(qemu, fake, live.CMDLINE, 2) is None
    assert key(qemu, fake, live.CMDLINE + " quiet", 1) is None
    monkeypatch.setenv("KCOURSE_LAB_SNAPSHOT", "0")
    assert key(qemu, fake, live.CMDLINE, 1) is None
    monkeypatch.setenv("KCOURSE_LAB_SNAPSHOT", "1")
    first = key(qemu, fake, live.CMDLINE, 1)
    (tmp_path / "vmlinux").write_bytes(b"another kernel")  # a changed part: a new key
    assert key(qemu, fake, live.CMDLINE, 1) != first
    (tmp_path / "vmlinux").unlink()
    assert key(qemu, fake, live.CMDLINE, 1) is None
