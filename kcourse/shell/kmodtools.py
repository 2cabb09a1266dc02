"""kmod 30's insmod, rmmod and lsmod, reading /proc and /sys exactly as libkmod does.

Like the real tools these only talk to the kernel through its files and two syscalls:
finit_module (insmod) and delete_module (rmmod). Messages and exit codes are kmod's
(tools/insmod.c, tools/rmmod.c, tools/lsmod.c; libkmod/libkmod-module.c), printed through
tools/log.c as "<prog>: ERROR: <text>". Where libkmod itself logs (a failed delete_module,
an unreadable holders directory), the line carries the source position of Debian's build,
as the real binary prints it (seen on kmod 30+20221128-1: libkmod-module.c:856 and :1998).
"""

from __future__ import annotations

import errno
import os

from kcourse.errors import KcourseError, KoFormatError
from kcourse.kernel.kernel import KernelErrno, SimulatorLimit
from kcourse.shell import kmodhelp
from kcourse.shell.context import Ctx, TaskKilled
from kcourse.shell.fs import FsError
from kcourse.shell.getopt import GetoptError, getopt_long
from kcourse.shell.moddir import modname, normalize

O_NONBLOCK = os.O_NONBLOCK  # 0o4000 on Linux; kmod always adds it (libkmod-module.c)
O_TRUNC = os.O_TRUNC        # KMOD_REMOVE_FORCE (libkmod.h)
MODULE_INIT_IGNORE_MODVERSIONS = 1  # include/uapi/linux/module.h
MODULE_INIT_IGNORE_VERMAGIC = 2
REMOVE_LOG_LINE = 856   # libkmod-module.c: ERR "could not remove '%s': %m" (Debian kmod 30)
HOLDERS_LOG_LINE = 1998  # libkmod-module.c: ERR in kmod_module_get_holders (Debian kmod 30)


def prog_name(argv: list[str]) -> str:
    """program_invocation_short_name: the basename of argv[0]."""
    return argv[0].rsplit("/", 1)[-1]


def mod_strerror(err: int) -> str:
    """tools/insmod.c mod_strerror: kmod's own words for four errno values."""
    return {
        errno.ENOEXEC: "Invalid module format",
        errno.ENOENT: "Unknown symbol in module",
        errno.ESRCH: "Module has wrong symbol version",
        errno.EINVAL: "Invalid parameters",
    }.get(err, os.strerror(err))


def kernel_errno(err: Exception) -> int:
    return getattr(err, "errno", None) or errno.EIO


# ---------------------------------------------------------------- sysfs, as libkmod reads it
def read_sys(ctx: Ctx, path: str) -> str | int:
    """The file's text, or -errno when it cannot be read."""
    try:
        return ctx.fs.read_bytes(path).decode("utf-8", "replace")
    except FsError as err:
        return -err.errno


def initstate(ctx: Ctx, name: str) -> str | int:
    """kmod_module_get_initstate: "live"/"coming"/"going", or -errno when not loaded.

    kmod 30: when /sys/module/<m> exists but has no initstate (a built-in module, or one
    whose sysfs is still being created), it answers "coming".
    """
    text = read_sys(ctx, f"/sys/module/{name}/initstate")
    if isinstance(text, int):
        return "coming" if ctx.fs.is_dir(f"/sys/module/{name}") else text
    return text.strip()


def refcnt(ctx: Ctx, name: str) -> int:
    """kmod_module_get_refcnt: the number in /sys/module/<m>/refcnt, or -errno."""
    text = read_sys(ctx, f"/sys/module/{name}/refcnt")
    if isinstance(text, int):
        return text
    try:
        return int(text.strip())
    except ValueError:
        return -errno.EINVAL


def tool_logger(prog: str):
    """tools/log.c log_kmod: how rmmod and modprobe print libkmod's own errors."""
    return lambda line, fn, msg: f"{prog}: ERROR: ../libkmod/libkmod-module.c:{line} {fn}() {msg}"


def default_logger(line: int, fn: str, msg: str) -> str:
    """libkmod.c log_filep: libkmod's default logger (kmod 30's lsmod does not set its own)."""
    return f"libkmod: ERROR ../libkmod/libkmod-module.c:{line} {fn}: {msg}"


def holders(ctx: Ctx, name: str, logger) -> list[str]:
    """kmod_module_get_holders: readdir of /sys/module/<m>/holders (kernfs order)."""
    path = f"/sys/module/{name}/holders"
    try:
        entries = ctx.fs.listdir(path)
    except FsError as err:
        ctx.err(logger(HOLDERS_LOG_LINE, "kmod_module_get_holders",
                       f"could not open '{path}': {err.strerror}") + "\n")
        return []
    return [e.name for e in entries if not e.name.startswith(".")]


def module_size(ctx: Ctx, name: str, proc_line: str) -> int:
    """kmod_module_get_size: /sys/module/<m>/coresize, else field 2 of /proc/modules."""
    text = read_sys(ctx, f"/sys/module/{name}/coresize")
    if isinstance(text, str):
        try:
            return int(text.strip())
        except ValueError:
            pass
    parts = proc_line.split()
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else -errno.ENOENT


def loaded_names(ctx: Ctx) -> list[tuple[str, str]]:
    """kmod_module_new_from_loaded: (name, line) for each line of /proc/modules."""
    text = read_sys(ctx, "/proc/modules")
    if isinstance(text, int):
        return []
    return [(line.split()[0], line) for line in text.splitlines() if line.strip()]


# ---------------------------------------------------------------- syscalls
def remove_module(ctx: Ctx, name: str, force: bool, logger) -> int:
    """kmod_module_remove_module: delete_module(name, O_NONBLOCK [| O_TRUNC]); 0 or -errno."""
    flags = O_NONBLOCK | (O_TRUNC if force else 0)
    try:
        ctx.kernel.delete_module(name, flags)
    except TaskKilled:
        raise
    except KcourseError as exc:  # KernelErrno
        code = kernel_errno(exc)
        ctx.err(logger(REMOVE_LOG_LINE, "kmod_module_remove_module",
                       f"could not remove '{name}': {os.strerror(code)}") + "\n")
        return -code
    return 0


def insert_file(ctx: Ctx, vpath: str, options: str, flags: int) -> int:
    """kmod_module_insert_module for a file: open it as kmod_file_open does, then finit_module."""
    try:
        host = ctx.fs.host_file(vpath)
    except FsError as err:
        return -err.errno
    if host.is_dir():
        return -errno.EISDIR  # kmod_file_open: reading the magic bytes fails
    try:
        size = host.stat().st_size
    except OSError as err:
        return -(err.errno or errno.EIO)
    if size < 6:  # kmod_file_open reads the longest magic (xz: 6 bytes) or fails with EINVAL
        return -errno.EINVAL
    try:
        ctx.kernel.finit_module(str(host), options, flags)
    except TaskKilled:
        raise
    except KoFormatError:  # kmod read the file, the kernel's ELF checks refuse it
        return -errno.ENOEXEC
    except KernelErrno as exc:
        return -kernel_errno(exc)
    except KcourseError as exc:  # the simulator's own refusal: its words, not an errno
        text = " ".join(str(exc).split())
        raise SimulatorLimit(text if text.startswith("kcourse: ") else f"kcourse: {text}") \
            from None
    return 0


# ---------------------------------------------------------------- insmod
def insmod(ctx: Ctx, argv: list[str]) -> int:
    prog = prog_name(argv)
    try:
        opts, args = getopt_long(argv, "psfVh", {"version": (False, "-V"), "help": (False, "-h")})
    except GetoptError as err:
        ctx.err(f"{err}\n")
        return 1
    flags = 0
    for key, _ in opts:
        if (text := kmodhelp.help_or_version(key, kmodhelp.INSMOD_HELP)) is not None:
            ctx.out(text)
            return 0
        if key == "-f":
            flags |= MODULE_INIT_IGNORE_MODVERSIONS | MODULE_INIT_IGNORE_VERMAGIC
    if not args:
        ctx.err(f"{prog}: ERROR: missing filename.\n")
        return 1
    filename = args[0]
    if filename == "-":
        ctx.err(f"{prog}: ERROR: this tool does not support loading from stdin!\n")
        return 1
    vpath = ctx.path(filename)
    failed = ctx.fs.stat_errno(vpath)
    if failed:  # kmod_module_new_from_path: stat() fails (ENOENT, ENAMETOOLONG, ELOOP, ...)
        ctx.err(f"{prog}: ERROR: could not load module {filename}: {os.strerror(failed)}\n")
        return 1
    err = insert_file(ctx, vpath, " ".join(args[1:]), flags)
    if err < 0:
        ctx.err(f"{prog}: ERROR: could not insert module {filename}: {mod_strerror(-err)}\n")
        return 1
    return 0


# ---------------------------------------------------------------- rmmod
def check_module_inuse(ctx: Ctx, name: str, prog: str) -> int:
    """tools/rmmod.c check_module_inuse (kmod 30): 0, or -errno after printing why not."""
    state = initstate(ctx, name)
    if isinstance(state, int):
        ctx.err(f"{prog}: ERROR: Module {name} is not currently loaded\n")
        return -errno.ENOENT
    users = holders(ctx, name, tool_logger(prog))
    if users:
        ctx.err(f"{prog}: ERROR: Module {name} is in use by: {' '.join(users)}\n")
        return -errno.EBUSY
    count = refcnt(ctx, name)
    if count > 0:
        ctx.err(f"{prog}: ERROR: Module {name} is in use\n")
        return -errno.EBUSY
    if count == -errno.ENOENT:
        ctx.err(f"{prog}: ERROR: Module unloading is not supported\n")
    return count if count < 0 else 0


def rmmod(ctx: Ctx, argv: list[str]) -> int:
    prog = prog_name(argv)
    longopts = {"force": (False, "-f"), "syslog": (False, "-s"), "verbose": (False, "-v"),
                "version": (False, "-V"), "wait": (False, "-w"), "help": (False, "-h")}
    try:
        opts, args = getopt_long(argv, "fsvVwh", longopts)
    except GetoptError as err:
        ctx.err(f"{err}\n")
        return 1
    force = False
    for key, _ in opts:
        if (text := kmodhelp.help_or_version(key, kmodhelp.RMMOD_HELP)) is not None:
            ctx.out(text)
            return 0
        if key == "-f":
            force = True
        elif key == "-w":  # Debian's kmod 30 lists --wait but its switch has no case for it
            ctx.err(f"{prog}: ERROR: unexpected getopt_long() value 'w'.\n")
            return 1
    if not args:
        ctx.err(f"{prog}: ERROR: missing module name.\n")
        return 1
    failures = 0
    for arg in args:
        # stat() succeeds: kmod_module_new_from_path (name from the file name); else by name
        name = modname(arg) if ctx.fs.exists(ctx.path(arg)) else normalize(arg)
        if not force and check_module_inuse(ctx, name, prog) < 0:
            failures += 1
            continue
        err = remove_module(ctx, name, force, tool_logger(prog))
        if err < 0:
            ctx.err(f"{prog}: ERROR: could not remove module {arg}: {os.strerror(-err)}\n")
            failures += 1
    return 0 if failures == 0 else 1


# ---------------------------------------------------------------- lsmod
def lsmod(ctx: Ctx, argv: list[str]) -> int:
    """kmod 30 tools/lsmod.c: the header, then one printf("%-19s %8ld  %d") row per module."""
    if len(argv) != 1:
        ctx.err(f"Usage: {argv[0]}\n")
        return 1
    text = read_sys(ctx, "/proc/modules")
    if isinstance(text, int):
        ctx.err(f"Error: could not get list of modules: {os.strerror(-text)}\n")
        return 1
    ctx.out("Module                  Size  Used by\n")
    for name, line in loaded_names(ctx):
        row = f"{name:<19} {module_size(ctx, name, line):8d}  {refcnt(ctx, name)}"
        users = holders(ctx, name, default_logger)
        if users:
            row += " " + ",".join(users)
        ctx.out(row + "\n")
    return 0
