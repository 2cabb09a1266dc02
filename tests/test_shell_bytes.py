"""kshell's head, od, dd, awk, mknod and rm, against the host's real tools.

The reference is Debian 12's: GNU coreutils 9.1 (head, od, dd, mknod, rm) and mawk 1.3.4
20200120, Debian's awk, run as `awk` (its messages name argv[0]) from bash -c, in the lab's
locale (LANG=C.UTF-8: gnulib's quote() prints ‘x’). Each case is one line run by both in
a folder of small files (kshell's working folder is that host folder, read-only), so no
kernel is touched; writes go to /tmp, which kshell keeps in memory (the host's copy is
removed after the case). What these tools do on module files (head -c of a char device,
dd's O_NONBLOCK open of a /proc file, mknod of a cdev's number) is held to the real kernel
by tests/test_lkmpg.py (the ioctl and sleep examples' recordings).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid

import pytest

from conftest import need
from kcourse.shell import Shell

FILES = {
    "f": b"abc\ndef\nghi\n",
    "g": b"abcdefghijklmnopqrstuvwxyz0123456789",
    "z": bytes(38) + b"x",
    "e": b"",
    "t": b"a b c\nx  b\ty\n\nlast line here\n",
    "p": b"root:x:0:0\ndaemon:x:1:1\n",
    "csv": b"1,2,3\n,b,\n",
    "n": b"1.0 b\n2 c\n10 d\n",
    "bin": bytes(range(256)) * 2,
    # /proc/devices on the lab's guest with LKMPG's ioctl loaded (data/lkmpg/ioctl)
    "devices": b"Character devices:\n  1 mem\n 10 misc\n246 ioctltest\n254 gpiochip\n\n"
               b"Block devices:\n259 blkext\n",
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("bytes")
    for name, data in FILES.items():
        (root / name).write_bytes(data)
    (root / "d").mkdir()
    return root


@pytest.fixture(scope="module")
def host_path(tmp_path_factory):
    """PATH for the host's tools, with `awk` being mawk as on Debian 12."""
    mawk = shutil.which("mawk")
    need(mawk is not None, "mawk is not installed (Debian's awk: apt-get install mawk)")
    version = subprocess.run([mawk, "-W", "version"], capture_output=True, text=True,
                             check=False).stdout
    need(version.startswith("mawk 1.3.4"), f"mawk is not 1.3.4: {version[:40]!r}")
    od = subprocess.run(["od", "--version"], capture_output=True, text=True, check=False)
    need("coreutils) 9.1" in od.stdout, "the host's coreutils is not 9.1 (Debian 12's)")
    bin_dir = tmp_path_factory.mktemp("bin")
    (bin_dir / "awk").symlink_to(mawk)
    return f"{bin_dir}:/usr/bin:/bin"


def real(line: str, cwd, path: str) -> tuple[str, str, int]:
    proc = subprocess.run(["bash", "-c", line], capture_output=True, cwd=cwd, check=False,
                          env={"PATH": path, "LANG": "C.UTF-8", "HOME": "/root"})
    return (proc.stdout.decode("utf-8", "surrogateescape"),
            proc.stderr.decode("utf-8", "surrogateescape"), proc.returncode)


def simulated(line: str, cwd) -> tuple[str, str, int]:
    result = Shell(workdir=str(cwd)).run(line)
    return result.stdout, result.stderr, result.rc


def same(line: str, folder, host_path) -> None:
    tmp = f"/tmp/kshell-{uuid.uuid4().hex[:12]}"
    line = line.replace("TMP", tmp)
    try:
        want = real(line, folder, host_path)
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)
    assert simulated(line, folder) == want


HEAD = ["head -c 5 f", "head -c -3 f", "head -c 2 f f", "head -c 1K f", "head -c 5b f",
        "head -c 1kB bin", "head -c 1KiB bin | wc -c", "head -c 0 f", "head -c -0 f",
        "head -c x f", "head -c 1x f", "head -c '' f", "head -c", "head -c 3 nope f",
        "head -n 2 f", "head -2 f", "head -n -1 f", "cat f | head -c 4", "head -v -c 3 f",
        "head -q -c 2 f f", "head -c 2 - f < g", "head -z f", "head --bytes=4 g",
        "head -c 300 bin | wc -c", "head d"]
OD = ["od g", "od -An -tx1 g", "od -tx2 g", "od -An -tx4 g", "od -td2 g", "od -tu1 -tx1 -Ad g",
      "od -v -tx1 z", "od -tx1 z", "od -N 3 -j 2 -tx1 g", "od -tx1 -w8 g", "od -j 100 g",
      "od nope", "od nope g", "od -A q g", "od -tx9 g", "od -tq g", "od -x g", "od -b g",
      "od -to8 g", "od -td8 bin", "od -td1 bin", "od -tu2 bin", "od -to4 bin",
      "cat g | od -An -tx1", "od -Ax -N 0x10 -tx1 g", "echo -n abc | od -tx4", "od e",
      "od -An e", "od -tx1 -tu2 g", "od -tx8 -tx1 g", "od -Ao -tx1x2 g", "od -N x g",
      "od -w -tx1 bin", "od f g", "od -s f", "od -tdC -tdS f", "od -tx1 z z",
      "head -c 4 bin | od -An -tx1"]
DD = ["dd if=g bs=10 status=noxfer", "dd if=g bs=10 conv=sync status=noxfer",
      "dd if=g ibs=10 obs=7 status=noxfer", "dd foo=1", "dd bs=x", "dd conv=ucasex",
      "dd iflag=bogus", "dd oflag=bogus", "dd status=bogus", "dd bs=0", "dd if=nope",
      "dd if=g count=2 bs=5 status=noxfer", "dd if=g skip=1 bs=30 status=none",
      "dd if=g bs=2x3 count=1 status=none", "dd if=g status=none",
      "cat g | dd bs=4 count=2 status=noxfer", "dd if=bin bs=1K conv=sync status=noxfer | wc -c",
      "dd if=g of=TMP status=none; cat TMP",
      "dd if=g of=TMP bs=5 count=2 status=none; dd if=f of=TMP bs=2 count=1 conv=notrunc "
      "status=none; cat TMP",
      "dd if=f of=TMP bs=3 status=noxfer; dd if=g of=TMP bs=2 count=1 status=none; cat TMP",
      "dd if=e status=noxfer", "dd if=g count=0 status=noxfer", "dd if=d status=none"]
AWK = ["awk '$2 == \"ioctltest\" {print $1}' devices", "awk '/b/ {print $1}' f", "awk '/b/' t",
       "awk '!/b/' t", "awk -F: '{print $2}' p", "awk -F : '{print $1, $3}' p",
       "awk -F, '{print $2, $1}' csv", "awk '{print $NF, NF, NR}' t", "awk '{print}' t",
       "awk '$1 == 1 {print \"num\"}' n", "awk '$1 != \"a\"' t", "awk '$1 ~ /^[ax]/ {print $2}' t",
       "awk '$1 !~ /a/' t", "awk 'NR == 2' t", "awk '$1 > 2' n", "awk '$1 < \"5\"' n",
       "awk '{print $1}; /d/ {print \"d!\"}' n", "awk -F'[,]' '{print $3}' csv",
       "cat t | awk '{print $2}'", "awk '{print $1}' f nope", "awk -x 1", "awk -F",
       "awk '{ print $1 }\n/x/ { print \"x\" }' t", "awk '{print $5}' t", "awk",
       "awk '{print $0}' - < f"]
MKNOD = ["mknod", "mknod x", "mknod x c", "mknod x c 1", "mknod x p 1 2", "mknod x q 1 2",
         "mknod x c a 1", "mknod x c 1 b", "mknod -q", "mknod x c 1 2 3", "mknod x '' 1 2",
         "mknod f c 1 2"]
RM = ["rm", "rm nope", "rm -f nope", "rm -f", "rm -q", "rm d", "rm nope1 nope2",
      "echo hi > TMP; rm -v TMP; cat TMP", "echo hi > TMP; echo more >> TMP; cat TMP; rm TMP",
      "rm -f TMP nope; echo $?"]


@pytest.mark.parametrize("line", HEAD)
def test_head_as_coreutils(line, folder, host_path):
    same(line, folder, host_path)


@pytest.mark.parametrize("line", OD)
def test_od_as_coreutils(line, folder, host_path):
    same(line, folder, host_path)


@pytest.mark.parametrize("line", DD)
def test_dd_as_coreutils(line, folder, host_path):
    same(line, folder, host_path)


@pytest.mark.parametrize("line", AWK)
def test_awk_as_mawk(line, folder, host_path):
    same(line, folder, host_path)


@pytest.mark.parametrize("line", MKNOD)
def test_mknod_usage_as_coreutils(line, folder, host_path):
    """Only lines that fail before any node is made (the host's mknod would make one)."""
    same(line, folder, host_path)


@pytest.mark.parametrize("line", RM)
def test_rm_as_coreutils(line, folder, host_path):
    same(line, folder, host_path)


# ------------------------------------------------------------- what is not modelled says so
@pytest.mark.parametrize("line", [
    "awk 'BEGIN {x = 1}' f", "awk '{printf \"%s\\n\", $1}' f", "awk -v x=1 '{print}' f",
    "awk '{print $1 + 1}' f", "od -c f", "od -tf4 f", "dd if=f conv=ucase",
    "dd if=f iflag=direct", "dd if=f seek=1", "mknod /dev/blk b 7 0", "mknod /dev/fifo p",
    "mknod TMPNODE c 1 3", "rm -i f", "rm -r d"])
def test_what_is_not_modelled_says_so_in_one_line(line, folder):
    out, err, rc = simulated(line.replace("TMPNODE", "/tmp/kshell-node"), folder)
    assert out == "" and rc != 0
    assert err.count("\n") == 1 and err.startswith("kshell: "), err


def test_dd_transfer_time_is_said_not_simulated(folder, host_path):
    out, err, rc = simulated("dd if=g bs=10", folder)
    want = real("dd if=g bs=10", folder, host_path)
    assert (out, rc) == want[::2]
    records = want[1].splitlines(True)[:2]  # the third line is the time it took
    assert err == "".join(records) + ("kshell: dd: 36 bytes copied (the time it took, which "
                                      "dd prints here, is not simulated)\n")


# ---------------------------------------------------------------- mknod on the kernel's /dev
def test_mknod_node_opens_the_char_device_registered_under_its_number():
    """fs/char_dev.c chrdev_open: the number finds the cdev when the node is opened; none
    there is -ENXIO. mknod(2) of a taken name is -EEXIST (fs/namei.c filename_create); the
    mode is 0666 less root's umask 022 (fs/namei.c: mode &= ~current_umask())."""
    sh = Shell()
    assert sh.run("mknod /dev/nothing c 200 0").rc == 0
    got = sh.run("ls -l /dev/nothing")
    assert got.stdout.startswith("crw-r--r-- ")
    got = sh.run("cat /dev/nothing")
    assert (got.stderr, got.rc) == ("cat: /dev/nothing: No such device or address\n", 1)
    got = sh.run("head -c 1 /dev/nothing")
    assert got.stderr == "head: cannot open '/dev/nothing' for reading: No such device or " \
                         "address\n"
    got = sh.run("mknod /dev/nothing c 1 1")
    assert (got.stderr, got.rc) == ("mknod: /dev/nothing: File exists\n", 1)
    assert sh.run("rm /dev/nothing").rc == 0
    got = sh.run("ls /dev/nothing")
    assert got.stderr == "ls: cannot access '/dev/nothing': No such file or directory\n"


def test_rm_of_kernel_files_is_refused_as_proc_and_sysfs_refuse():
    """proc and kernfs directories have no ->unlink: vfs_unlink returns -EPERM."""
    sh = Shell()
    got = sh.run("rm /proc/modules")
    assert (got.stderr, got.rc) == ("rm: cannot remove '/proc/modules': Operation not "
                                    "permitted\n", 1)


def test_tmp_files_stay_in_memory_and_host_files_stay_read_only(folder):
    sh = Shell(workdir=str(folder))
    name = f"/tmp/kshell-{uuid.uuid4().hex[:12]}"
    assert sh.run(f"echo hi > {name}").rc == 0
    assert not os.path.exists(name)
    assert sh.run(f"cat {name}").stdout == "hi\n"
    assert name.rsplit("/", 1)[1] in sh.run("ls /tmp").stdout.split()
    got = sh.run("rm f")
    assert (got.stderr, got.rc) == ("rm: cannot remove 'f': Read-only file system\n", 1)
    assert (folder / "f").exists()
