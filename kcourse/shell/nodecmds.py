"""mknod and rm, as coreutils 9.1 has them (Debian 12), on the simulated machine's files.

`mknod /dev/NAME c MAJOR MINOR` makes a character device node in /dev (devtmpfs): opening it
opens whatever char device the kernel has under that number at that moment (chrdev_open,
fs/char_dev.c: ENXIO when none), so a module that registers a cdev without device_create
(LKMPG's ioctl) gets its node by hand, as on the real kernel. Without -m its mode is
0666 less the shell's umask (022): crw-r--r--.

`rm` takes away such a node, or a file the shell wrote in /tmp; /proc and /sys entries
refuse (EPERM), the host's files are read-only (EROFS). Block devices, FIFOs and nodes
outside /dev are not modelled and say so in one line.
"""

from __future__ import annotations

import re

from kcourse.errors import KcourseError
from kcourse.kernel.chrdevs import mkdev
from kcourse.shell.bytetools import quote
from kcourse.shell.context import Ctx, TaskKilled
from kcourse.shell.fs import FsError
from kcourse.shell.getopt import GetoptError, getopt_long

UMASK = 0o022  # bash's default umask for root on Debian (login.defs / pam_umask)
MKNOD_TRY = "Try 'mknod --help' for more information.\n"


def _number(text: str) -> int | None:
    """xstrtoumax(text, NULL, 0, ...): decimal, 0x hex or 0 octal, nothing after."""
    if re.fullmatch(r"0[xX][0-9a-fA-F]+", text):
        return int(text, 16)
    if re.fullmatch(r"0[0-7]*", text):
        return int(text, 8)
    if re.fullmatch(r"[1-9][0-9]*", text):
        return int(text)
    return None


def mknod(ctx: Ctx, argv: list[str]) -> int:
    try:
        opts, args = getopt_long(argv, "m:Z", {"mode": (True, "-m"), "context": (False, "-Z")})
    except GetoptError as err:
        ctx.err(f"{err}\n{MKNOD_TRY}")
        return 1
    mode = 0o666 & ~UMASK
    for key, value in opts:
        if key == "-Z":
            ctx.err("kshell: mknod: SELinux contexts (-Z) are not modelled\n")
            return 1
        if not re.fullmatch(r"[0-7]{1,4}", value):
            ctx.err(f"kshell: mknod: mode '{value}': only octal modes are supported here\n")
            return 1
        mode = int(value, 8)
        if mode & ~0o777:
            ctx.err("mknod: mode must specify only file permission bits\n")
            return 1
    # mknod.c: two operands for a FIFO (p), else four
    expected = 2 if not args or len(args) > 1 and args[1][:1] == "p" else 4
    if len(args) < expected:
        ctx.err("mknod: missing operand\n" if not args
                else f"mknod: missing operand after {quote(args[-1])}\n")
        if expected == 4 and len(args) == 2:
            ctx.err("Special files require major and minor device numbers.\n")
        ctx.err(MKNOD_TRY)
        return 1
    if len(args) > expected:
        ctx.err(f"mknod: extra operand {quote(args[expected])}\n")
        if expected == 2 and len(args) == 4:
            ctx.err("Fifos do not have major and minor device numbers.\n")
        ctx.err(MKNOD_TRY)
        return 1
    name, kind = args[0], args[1][:1]
    if kind not in "bcu" or not args[1]:
        if kind == "p":
            ctx.err("kshell: mknod: FIFOs are not modelled\n")
            return 1
        ctx.err(f"mknod: invalid device type {quote(args[1])}\n{MKNOD_TRY}")
        return 1
    major, minor = _number(args[2]), _number(args[3])
    if major is None or major > 0xFFFFFFFF:
        ctx.err(f"mknod: invalid major device number {quote(args[2])}\n")
        return 1
    if minor is None or minor > 0xFFFFFFFF:
        ctx.err(f"mknod: invalid minor device number {quote(args[3])}\n")
        return 1
    if kind == "b":
        ctx.err("kshell: mknod: block devices are not modelled\n")
        return 1
    vpath = ctx.path(name)
    where, _ = ctx.fs.locate(vpath)
    try:
        if where != "kernel":
            if ctx.fs.exists(vpath):
                raise FsError(17, name)  # EEXIST
            ctx.err(f"kshell: mknod {name}: only nodes in /dev are modelled\n")
            return 1
        if not vpath.startswith("/dev/"):
            raise FsError(17 if ctx.fs.exists(vpath) else 1, name)  # proc/kernfs: EPERM
        # glibc's mknodat passes the kernel a 32-bit dev (new_encode_dev): a major above
        # 4095 or a minor above 2^20 - 1 does not fit, EINVAL
        if major > 0xFFF or minor > 0xFFFFF:
            raise FsError(22, name)
        try:
            ctx.kernel.mknod(vpath, mode, mkdev(major, minor))
        except TaskKilled:
            raise
        except KcourseError as err:
            raise FsError(getattr(err, "errno", 5) or 5, name) from None
    except FsError as err:
        ctx.err(f"mknod: {name}: {err.strerror}\n")
        return 1
    return 0


def rm(ctx: Ctx, argv: list[str]) -> int:
    longopts = {"force": (False, "-f"), "recursive": (False, "-r"), "dir": (False, "-d"),
                "verbose": (False, "-v"), "interactive": (False, "-i")}
    try:
        opts, names = getopt_long(argv, "fiIrRdv", longopts)
    except GetoptError as err:
        ctx.err(f"{err}\nTry 'rm --help' for more information.\n")
        return 1
    keys = {k for k, _ in opts}
    if keys & {"-i", "-I"}:
        ctx.err("kshell: rm: -i and -I ask at a terminal; they are not modelled\n")
        return 1
    force = "-f" in keys
    if not names:
        if force:
            return 0
        ctx.err("rm: missing operand\nTry 'rm --help' for more information.\n")
        return 1
    rc = 0
    for name in names:
        vpath = ctx.path(name)
        try:
            if not ctx.fs.exists(vpath):
                raise FsError(2, name)
            if ctx.fs.is_dir(vpath) and ctx.fs.stat(vpath).kind == "dir":
                if keys & {"-r", "-R", "-d"}:
                    ctx.err(f"kshell: rm: removing directories ({name}) is not modelled\n")
                    rc = 1
                    continue
                raise FsError(21, name)
            try:
                ctx.fs.unlink(vpath)
            except TaskKilled:
                raise
            except KcourseError as err:
                raise FsError(getattr(err, "errno", 5) or 5, name) from None
        except FsError as err:
            if force and err.errno == 2:
                continue
            ctx.err(f"rm: cannot remove '{name}': {err.strerror}\n")
            rc = 1
            continue
        if "-v" in keys:
            ctx.out(f"removed '{name}'\n")
    return rc
