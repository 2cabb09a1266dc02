"""kmod 30's modprobe, modinfo and depmod over the simulated /lib/modules/<release>/.

modprobe follows tools/modprobe.c and libkmod's kmod_module_probe_insert_module: look the
name up (modules.dep, modules.symbols, modules.alias), load its dependencies from the end of
its modules.dep line, skip what is already live, and pass the command-line options to the
module itself. Soft dependencies (modules.softdep) are followed as libkmod follows them
(kcourse.shell.softdeps). `modprobe -r` checks refcnt before delete_module, then removes the
dependencies that became unused and the softdep modules (tools/modprobe.c rmmod_do_module).
Logging is tools/log.c: LOG() is FATAL (exits at once), ERR() is ERROR, `-q` silences both,
`-v`/`-n` show the insmod/rmmod steps on stdout.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import re

from kcourse.shell import kmodhelp, softdeps
from kcourse.shell.context import Ctx
from kcourse.shell.fs import FsError
from kcourse.shell.getopt import GetoptError, getopt_long
from kcourse.shell.kmodtools import (
    initstate,
    insert_file,
    prog_name,
    refcnt,
    remove_module,
    tool_logger,
)
from kcourse.shell.moddir import modname

LOG_EMERG, LOG_CRIT, LOG_ERR, LOG_WARNING = 0, 2, 3, 4
PRIO_NAMES = {LOG_CRIT: "FATAL", LOG_ERR: "ERROR", LOG_WARNING: "WARNING"}
KO_SUFFIX = re.compile(r"\.ko(\.(gz|xz|zst))?$")

MODPROBE_LONG = {
    "all": (False, "-a"), "remove": (False, "-r"), "remove-dependencies": (False, "holders"),
    "remove-holders": (False, "holders"), "wait": (True, "-w"), "resolve-alias": (False, "-R"),
    "first-time": (False, "first-time"), "ignore-install": (False, "-i"),
    "ignore-remove": (False, "-i"), "use-blacklist": (False, "-b"), "force": (False, "-f"),
    "force-modversion": (False, "force-modversion"), "force-vermagic": (False, "force-vermagic"),
    "show-depends": (False, "-D"), "showconfig": (False, "-c"), "show-config": (False, "-c"),
    "show-modversions": (False, "modversions"), "dump-modversions": (False, "modversions"),
    "dry-run": (False, "-n"), "show": (False, "-n"), "config": (True, "-C"),
    "dirname": (True, "-d"), "set-version": (True, "-S"), "syslog": (False, "-s"),
    "quiet": (False, "-q"), "verbose": (False, "-v"), "version": (False, "-V"),
    "help": (False, "-h"),
}


class _Fatal(Exception):
    """log_printf at LOG_CRIT: the message is printed and modprobe exits with status 1."""


class _Modprobe:
    def __init__(self, ctx: Ctx, prog: str):
        self.ctx, self.prog = ctx, prog
        self.threshold = LOG_WARNING  # tools/log.c log_priority until log_setup_kmod_log
        self.log_prio = LOG_CRIT      # modprobe.c: LOG() uses this priority
        self.verbose = LOG_WARNING
        self.dry_run = self.do_show = self.ignore_loaded = self.first_time = False
        self.force = self.remove_holders = self.lookup_only = False
        self.ignore_commands = False
        self.flags = 0
        self.config = softdeps.Config(ctx.tree)

    def log(self, prio: int, text: str) -> None:
        if prio > self.threshold:
            return
        self.ctx.err(f"{self.prog}: {PRIO_NAMES.get(prio, 'LOG')}: {text}\n")
        if prio <= LOG_CRIT:
            raise _Fatal()

    def show(self, text: str) -> None:
        if self.do_show or self.verbose > LOG_WARNING:
            self.ctx.out(text)

    @property
    def dirname(self) -> str:
        return self.ctx.tree.root

    def libkmod_logger(self, line: int, fn: str, msg: str) -> str:
        return tool_logger(self.prog)(line, fn, msg)

    # ------------------------------------------------------------ insert
    def is_inkernel(self, name: str) -> bool:
        """libkmod-module.c module_is_inkernel: live, or built into the kernel."""
        return self.state(name) in ("live", "builtin")

    def state(self, name: str) -> str | int:
        """kmod_module_get_initstate: "builtin" first (modules.builtin), then /sys/module."""
        if self.config.lookup(name) == [softdeps.BUILTIN + name]:
            return "builtin"
        return initstate(self.ctx, name)

    def insmod(self, alias: str, options: str) -> int:
        tree = self.ctx.tree
        if alias.startswith("/") or alias.startswith("./"):
            vpath = self.ctx.path(alias)
            if not self.ctx.fs.exists(vpath):
                self.log(self.log_prio, f"Failed to get module from path {alias}: "
                                        "No such file or directory")
                return -errno.ENOENT
            return self.insert(modname(alias), [(vpath, True)], options)
        rels = self.config.lookup(alias)
        if not rels:
            self.log(self.log_prio, f"Module {alias} not found in directory {self.dirname}")
            return -errno.ENOENT
        err = 0
        for rel in rels:
            steps = softdeps.probe_list(self.config, rel, self.ignore_commands)
            err = self.insert(softdeps.name_of(rel), [
                (m if softdeps.is_builtin(m) else f"{tree.root}/{m}", req) for m, req in steps],
                options)
        return err

    def insert(self, name: str, steps: list[tuple[str, bool]], options: str) -> int:
        """kmod_module_probe_insert_module: `steps` is the probe list (path, required), the
        module's dependencies and softdeps in order (kcourse.shell.softdeps.probe_list)."""
        if self.lookup_only:
            self.ctx.out(f"{name}\n")
            return 0
        if not self.ignore_loaded and self.is_inkernel(name):
            if self.first_time:
                return self.report(name, -errno.EEXIST)
            return 0
        err = 0
        for m_path, required in steps:
            m_name = softdeps.name_of(m_path)
            if not self.ignore_loaded and self.is_inkernel(m_name):
                err = -errno.EEXIST
            elif softdeps.is_builtin(m_path):
                self.show(f"builtin {m_name}\n")  # modprobe.c print_action: no path
            else:
                m_opts = options if m_name == name else ""
                self.show(f"insmod {m_path} {m_opts}\n")
                if not self.dry_run:
                    err = insert_file(self.ctx, m_path, m_opts, self.flags)
            if err == -errno.EEXIST and m_name == name and self.first_time:
                break
            if err == -errno.EEXIST or not required:
                err = 0  # "Ignore errors from softdeps"
            elif err < 0:
                break
        return self.report(name, err) if err < 0 else 0

    def report(self, name: str, err: int) -> int:
        """tools/modprobe.c insmod_insert: the error line, naming the module asked for."""
        if err == -errno.EEXIST:
            self.log(LOG_ERR, f"could not insert '{name}': Module already in kernel")
        elif err == -errno.ENOENT:
            self.log(LOG_ERR, f"could not insert '{name}': Unknown symbol in module, "
                              "or unknown parameter (see dmesg)")
        else:
            self.log(LOG_ERR, f"could not insert '{name}': {os.strerror(-err)}")
        return err

    # ------------------------------------------------------------ remove
    def rmmod(self, alias: str) -> int:
        rels = self.config.lookup(alias)
        if not rels:
            self.log(self.log_prio, f"Module {alias} not found.")
            return -errno.ENOENT
        err = 0
        for rel in rels:
            err = self.remove(rel, holders_too=self.remove_holders, top=True)
            if err < 0:
                break
        return err

    def remove(self, rel: str, holders_too: bool, top: bool = False) -> int:
        """tools/modprobe.c rmmod_do_module (no remove commands configured): post softdeps,
        holders (--remove-holders), the module after a refcnt check, the dependencies that
        became unused, pre softdeps; softdeps and holders in reverse order (rmmod_do_modlist),
        each removed the same way, an error in a softdep not stopping the rest."""
        from kcourse.shell.kmodtools import holders

        name = softdeps.name_of(rel)
        pre, post = ([], []) if self.ignore_commands else self.config.softdeps(name)
        if not self.ignore_loaded:
            state = self.state(name)
            if isinstance(state, int):
                if self.first_time:
                    self.log(self.log_prio, f"Module {name} is not in kernel.")
                    return -errno.ENOENT
                return 0
            if state == "builtin":  # RMMOD_FLAG_IGNORE_BUILTIN for all but the one asked for
                if top:
                    self.log(self.log_prio, f"Module {name} is builtin.")
                    return -errno.ENOENT
                return 0
        for soft in reversed(post):
            self.remove(soft, holders_too=False)
        if holders_too:
            for holder in reversed(holders(self.ctx, name, self.libkmod_logger)):
                err = self.remove(self.ctx.tree.by_name(holder) or softdeps.BUILTIN + holder,
                                  holders_too=False)
                if err < 0:
                    return err
        if not self.ignore_loaded and refcnt(self.ctx, name) > 0:
            self.log(self.log_prio, f"Module {name} is in use.")
            return -errno.EBUSY
        err = self.remove_one(name)
        if err < 0:
            return err
        for dep in self.config.dependencies(rel):
            if refcnt(self.ctx, modname(dep)) == 0:
                self.remove_one(modname(dep))
        for soft in reversed(pre):
            self.remove(soft, holders_too=False)
        return 0

    def remove_one(self, name: str) -> int:
        self.show(f"rmmod {name}\n")
        if self.dry_run:
            return 0
        return remove_module(self.ctx, name, self.force, self.libkmod_logger)


def options_from_array(args: list[str]) -> str:
    """tools/modprobe.c options_from_array: a value holding a space is put in double quotes."""
    out = []
    for arg in args:
        key, eq, value = arg.partition("=")
        if eq and value[:1] not in ('"', "'") and " " in value:
            arg = f'{key}="{value}"'
        out.append(arg)
    return " ".join(out)


def modprobe(ctx: Ctx, argv: list[str]) -> int:
    mp = _Modprobe(ctx, prog_name(argv))
    try:
        return _modprobe(mp, argv)
    except _Fatal:
        return 1


def _modprobe(mp: _Modprobe, argv: list[str]) -> int:
    ctx = mp.ctx
    try:
        opts, args = getopt_long(argv, "arw:RibfDcnC:d:S:sqvVh", MODPROBE_LONG)
    except GetoptError as err:
        ctx.err(f"{err}\n")
        return 1
    remove = use_all = False
    for key, _ in opts:
        if (text := kmodhelp.help_or_version(key, kmodhelp.MODPROBE_HELP)) is not None:
            ctx.out(text)
            return 0
        if key == "-a":
            mp.log_prio, use_all = LOG_WARNING, True
        elif key == "-r":
            remove = True
        elif key == "holders":
            mp.remove_holders = True
        elif key == "first-time":
            mp.first_time = True
        elif key == "-f":
            mp.force = True
        elif key == "-i":
            mp.ignore_commands = True
        elif key == "-D":
            mp.ignore_loaded = mp.dry_run = mp.do_show = True
        elif key == "-R":
            mp.lookup_only = True
        elif key == "-n":
            mp.dry_run = True
        elif key == "-q":
            mp.verbose = LOG_EMERG
        elif key == "-v":
            mp.verbose += 1
        elif key in ("-c", "modversions", "-C", "-d", "-S", "-w", "-s"):
            ctx.err(f"kshell: modprobe option {key if key.startswith('-') else '--' + key} "
                    "is not simulated\n")
            return 1
        # -b and --force-* have nothing to act on here (no blacklist configured)
    if mp.force:
        from kcourse.shell.kmodtools import (
            MODULE_INIT_IGNORE_MODVERSIONS,
            MODULE_INIT_IGNORE_VERMAGIC,
        )

        mp.flags = MODULE_INIT_IGNORE_MODVERSIONS | MODULE_INIT_IGNORE_VERMAGIC
    if not args:
        mp.log(LOG_ERR, "missing parameters. See -h.")
        return 1
    mp.threshold = mp.verbose  # log_setup_kmod_log(ctx, verbose)
    if remove:
        results = [mp.rmmod(a) for a in args]  # rmmod_all: every name, -a or not
        err = next((r for r in reversed(results) if r < 0), 0)
    elif use_all:
        results = [mp.insmod(a, "") for a in args]
        err = next((r for r in reversed(results) if r < 0), 0)
    else:
        err = mp.insmod(args[0], options_from_array(args[1:]))
    return 0 if err >= 0 else 1


# ---------------------------------------------------------------- modinfo
MODINFO_LONG = {
    "author": (False, "-a"), "description": (False, "-d"), "license": (False, "-l"),
    "parameters": (False, "-p"), "filename": (False, "-n"), "null": (False, "-0"),
    "modname": (False, "-m"), "field": (True, "-F"), "set-version": (True, "-k"),
    "basedir": (True, "-b"), "version": (False, "-V"), "help": (False, "-h"),
}


def modinfo(ctx: Ctx, argv: list[str]) -> int:
    """kmod's modinfo: a file (an existing *.ko*) or a name looked up in modules.dep.

    The printing is kcourse.elf.modinfo's (byte for byte kmod's); this function only finds
    the files the way kmod does and shows the simulated path in the filename field.
    """
    prog = prog_name(argv)
    try:
        opts, args = getopt_long(argv, "adlpn0mF:k:b:Vh", MODINFO_LONG)
    except GetoptError as err:
        ctx.err(f"{err}\n")
        return 1
    passthrough: list[str] = []
    by_name_only = False
    for key, value in opts:
        if key in ("-k", "-b", "-V", "-h"):
            ctx.err(f"kshell: modinfo option {key} is not simulated\n")
            return 1
        if key == "-m":
            by_name_only = True
            continue
        passthrough += [key, value] if value is not None else [key]
    if not args:
        ctx.err(f"{prog}: ERROR: missing module or filename.\n")
        return 1
    rc = 0
    for name in args:
        vpath = ctx.path(name)
        files: list[tuple[str, str]] = []  # (host path, shown path)
        if not by_name_only and KO_SUFFIX.search(name) and _is_file(ctx, vpath):
            shown = name if name.startswith("/") else f"{ctx.cwd.rstrip('/')}/{name}"
            files.append((str(ctx.fs.host_file(vpath)), shown))
        else:
            for rel in ctx.tree.lookup(name):
                files.append((str(ctx.tree.files[rel]), f"{ctx.tree.root}/{rel}"))
        if not files:
            ctx.err(f"{prog}: ERROR: Module {name} not found.\n")
            rc = 1
            continue
        for host, shown in files:
            if _run_modinfo(ctx, [prog, *passthrough, host], host, shown) != 0:
                rc = 1
    return rc


def _is_file(ctx: Ctx, vpath: str) -> bool:
    try:
        return ctx.fs.stat(vpath).kind == "file"
    except FsError:
        return False


def _run_modinfo(ctx: Ctx, argv: list[str], host: str, shown: str) -> int:
    try:
        from kcourse.elf.modinfo import main as modinfo_main
    except ImportError:
        ctx.err("kshell: modinfo needs kcourse.elf.modinfo, which is not installed yet\n")
        return 1
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = modinfo_main(argv[1:])
        except Exception as exc:  # a KcourseError from a bad file: one line, like kmod's
            err.write(f"{argv[0]}: ERROR: {exc}\n")
            rc = 1
    ctx.out(out.getvalue().replace(host, shown))
    ctx.err(err.getvalue().replace(host, shown))
    return int(rc or 0)


# ---------------------------------------------------------------- depmod
def depmod(ctx: Ctx, argv: list[str]) -> int:
    """depmod [-a] [version]: the simulated tree's indexes are always current; check args."""
    prog = prog_name(argv)
    longopts = {"all": (False, "-a"), "quick": (False, "-A"), "errsyms": (False, "-e"),
                "show": (False, "-n"), "verbose": (False, "-v"), "warn": (False, "-w"),
                "basedir": (True, "-b"), "filesyms": (True, "-F"), "symvers": (True, "-E"),
                "config": (True, "-C"), "symbol-prefix": (False, "-P"),
                "version": (False, "-V"), "help": (False, "-h")}
    try:
        opts, args = getopt_long(argv, "aAb:C:E:F:euqrvnP:wmVh", longopts)
    except GetoptError as err:
        ctx.err(f"{err}\n")
        return 1
    for key, _ in opts:
        if key in ("-b", "-C", "-E", "-F", "-n", "-h", "-V", "-P"):
            ctx.err(f"kshell: depmod option {key} is not simulated\n")
            return 1
    release = args[0] if args and not args[0].endswith(".ko") else ctx.tree.release
    if release != ctx.tree.release:
        ctx.err(f"{prog}: ERROR: could not open directory /lib/modules/{release}: "
                "No such file or directory\n")
        ctx.err(f"{prog}: FATAL: could not search modules: No such file or directory\n")
        return 1
    return 0  # the simulated tree never changes, so its indexes are always up to date
