"""File system types (kcourse.kapi.filesystems, fs_stops) against Debian's real kernel:
isofs runs its own code.

tests/data/fsys/isofs/real.expected (script.sh there), recorded on Debian's 6.1.0-56-amd64
under QEMU: /proc/filesystems before, with and after isofs ("\\tiso9660": FS_REQUIRES_DEV, so
no "nodev"), the modules (isofs holds cdrom), its inode cache in /sys/kernel/slab
(init_inodecache: a ctor, so a cache of its own name, gone with kmem_cache_destroy), and
`modprobe iso9660` through the module's alias.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import recorded
from kcourse.backend import format_transcript
from kcourse.kapi import filesystems
from kcourse.kernel.kernel import SimulatorLimit
from kcourse.lab.compare import normalise

DATA = Path(__file__).parent / "data" / "fsys"


@pytest.fixture
def isofs_shell(tree_shell):
    return tree_shell(["isofs", "cdrom"])


def test_isofs_matches_the_real_recording(isofs_shell):
    real = recorded(DATA / "isofs" / "real.expected")
    for fact in ("nodev\tpstore\n\tiso9660\n", "cdrom                  81920  1 isofs",
                 "drwxr-xr-x directory /sys/kernel/slab/isofs_inode_cache",
                 "$ modprobe iso9660\n[rc=0]\n"):
        assert fact in real
    sim = normalise(format_transcript(isofs_shell.run_script(
        (DATA / "isofs" / "script.sh").read_text())))
    assert sim == real


def test_isofs_registers_its_own_file_system_type(isofs_shell):
    """The list holds isofs's iso9660_fs_type, in the module's memory: its name and
    FS_REQUIRES_DEV (fs/isofs/inode.c:1590) come from there; zisofs_init's vmalloc of
    zlib_inflate_workspacesize() bytes (42312, the BTF's struct inflate_workspace) is in
    the ledger while isofs is loaded."""
    sh = isofs_shell
    assert sh.run("modprobe isofs").rc == 0
    mods = {m.name: m for m in sh.kernel.modules}
    assert mods["isofs"].code is not None and mods["cdrom"].code is not None
    assert not sh.kernel.notes
    machine = sh.kernel.emulator
    (fs,) = filesystems.registered(machine)
    assert machine.symbolize(fs).startswith("iso9660_fs_type")
    assert filesystems._name(machine, fs) == b"iso9660"
    sizes = [a.requested for a in sh.kernel.memory.outstanding() if a.owner == "isofs"]
    assert 42312 in sizes
    assert sh.run("modprobe -r isofs").rc == 0
    assert filesystems.registered(machine) == []
    assert not [a for a in sh.kernel.memory.outstanding() if a.owner == "isofs"]


def test_the_mount_path_stops_with_one_line(isofs_shell):
    """isofs's mount (isofs_mount -> mount_bdev) is a stop: no mount(2) here."""
    sh = isofs_shell
    assert sh.run("modprobe isofs").rc == 0
    machine = sh.kernel.emulator
    mount = machine.space.read_u64(filesystems.registered(machine)[0] +
                                   filesystems.S.offsetof("file_system_type", "mount"))
    with pytest.raises(SimulatorLimit) as err:
        machine.call(mount, 0, 0, 0, 0)
    assert "mount_bdev()" in str(err.value) and "no mount(2)" in str(err.value)
    assert str(err.value).count("\n") == 0


@pytest.mark.parametrize(("args", "seconds"), [
    ((1970, 1, 1, 0, 0, 0), 0), ((2000, 3, 1, 0, 0, 0), 951868800),
    ((2026, 12, 4, 18, 22, 29), 1796408549), ((1969, 12, 31, 23, 59, 59), -1),
])
def test_mktime64_is_gauss_in_the_kernels_types(args, seconds):
    """kernel/time/time.c mktime64 (isofs's iso_date): the Unix time of a UTC date."""
    call = type("Call", (), {"machine": None})()
    assert filesystems.mktime64(call, *args) == seconds
