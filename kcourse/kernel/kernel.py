"""Kernel: the simulated Debian 12 kernel (6.1.0-NN-amd64) behind one object.

System calls (finit_module, delete_module, open/close/read/write of files) return 0 or raise
KernelErrno, like the real ones; /proc, /sys and /dev are read through a small VFS
(read_file/write_file/list_dir); the ring buffer is `log`. The facts that make it *this*
kernel (release, vermagic, module_layout CRC, config) come from data/kernel/kernel.json,
which data/kernel/extract.sh reads out of Debian's linux-headers package.

A refused call leaves snapshot() unchanged; what the real kernel also leaves behind - dmesg
lines, taint bits set before the failure - is outside snapshot() on purpose.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import random
import stat
import zlib
from dataclasses import dataclass

from kcourse.kernel import errno as E
from kcourse.kernel import procfs
from kcourse.kernel.context import ModuleContext
from kcourse.kernel.errno import KernelErrno
from kcourse.kernel.image import ModuleImage, read_source
from kcourse.kernel.loader import Loader, LoadError
from kcourse.kernel.module import Module
from kcourse.kernel.printk import Clock, LogBuffer
from kcourse.kernel.states import ModuleState, allowed
from kcourse.kernel.symbols import KernelSymbols
from kcourse.kernel.vfs import lookup as vfs_lookup
from kcourse.kernel.vmarea import ModuleArea
from kcourse.paths import kernel_data_dir

TAINT_DIE = 7
SHELL_PID = 1234  # the root shell (bash) a session types into: its builtins run in it
TOOL_ORDER = ("insmod", "rmmod", "modprobe", "cat")  # a pid each, after a seeded start
SYSCALL_COMM = {"finit_module": "insmod", "delete_module": "rmmod", "open": "bash",
                "close": "bash", "read": "cat", "write": "bash"}  # who calls, by default


@dataclass(frozen=True)
class DirEntry:
    name: str
    mode: int  # st_mode, file type bits included (stat.filemode() gives ls -l's column)
    kind: str  # "file" | "dir" | "link"
    target: str | None = None


@dataclass(frozen=True)
class Event:
    seq: int
    kind: str  # load | unload | state | get | put | alloc | free | taint | oops
    module: str
    detail: object


class TaskKilled(KernelErrno):
    """The calling process died in the kernel (an oops in module code): the shell says Killed."""

    def __init__(self, message: str = "Killed"):
        super().__init__(E.EFAULT, message)
        self.args = (message,)


class SimulatorLimit(TaskKilled):
    """Module code did something the simulator does not model (a kernel function it has no
    model of, an endless loop, a deadlock): one line says what and points to the real kernel.
    The call that ran the code failed; the shell shows the line and the command exits 1."""

    def __init__(self, message: str):
        super().__init__(message)


@functools.lru_cache(maxsize=1)
def kernel_facts() -> dict:
    return json.loads((kernel_data_dir() / "kernel.json").read_text())


def _dir(name: str) -> DirEntry:
    return DirEntry(name, stat.S_IFDIR | 0o755, "dir")


class Kernel:
    """One booted kernel with an empty module list."""

    def __init__(self, seed: int = 0, sig_enforce: bool = False, behaviors: dict | None = None):
        facts = kernel_facts()
        self.seed = seed
        self.release: str = facts["release"]
        self.vermagic: str = facts["vermagic"]
        self.module_layout_crc: int = int(facts["module_layout_crc"], 16)
        self.config: dict = facts["config"]
        self.config_thread_size: int = facts.get("thread_size", 16384)
        self.sig_enforce = sig_enforce  # module.sig_enforce=1 on the command line
        self.modules_disabled = False  # /proc/sys/kernel/modules_disabled
        self.clock = Clock(seed)
        self.log = LogBuffer(self.clock)
        self.tainted = 0
        self.debug_locks = True
        self.modules: list[Module] = []
        self._by_name: dict[str, Module] = {}
        self.symbols = KernelSymbols()
        self.vm = ModuleArea(seed)
        self.events: list[Event] = []
        self.last_trace: list[str] = []
        self.last_unloaded = ("", "")  # main.c:528-531 last_unloaded_module: name, taints
        self.devices: dict[str, tuple[Module, int]] = {}
        self.fds: dict[int, tuple[str, Module | None]] = {}
        self.panicked = False
        self._behaviors = behaviors or {}
        self._emulator = None  # kcourse.machine.Machine, made when module code first runs
        self._loader = Loader(self)
        self._task: tuple[int, str] | None = None  # set by task(): who makes the next calls
        self.current: tuple[int, str] = (self.pid_of("insmod"), "insmod")  # (pid, comm)
        self.syscall = "finit_module"  # the system call running now (oops call traces)
        self.memory = self._make_memory()

    def _make_memory(self):
        from kcourse.kernel.memory import MemoryLedger

        def sink(incident):
            for level, text in incident.lines:
                self.log.printk(f"\001{level}{text}\n")
            # The report is printed first, then the flag set: kernel/panic.c:691 (__warn ends
            # with add_taint(taint, LOCKDEP_STILL_OK)), kernel/sched/core.c:10022 (the
            # might_sleep BUG the same way), so the next report says "Tainted: ... W".
            taint = incident.taint
            if taint and self.tainted & taint != taint:
                self.tainted |= taint
                self.event("taint", incident.owner, taint)

        return MemoryLedger(seed=self.seed, sink=sink, clock=lambda: self.clock.usec,
                            machine=self.machine)

    # ================================================================ the calling task
    def pid_of(self, comm: str) -> int:
        """The pid of the process called `comm` on this machine (a model, seeded).

        The shell is bash (SHELL_PID); each tool has its own pid after a seeded start, the
        start being the one MemoryLedger uses for insmod, so kmemleak, WARN and oops reports
        name the same process."""
        base = 1000 + random.Random(self.seed).randrange(200)
        if comm == "bash":
            return SHELL_PID
        if comm in TOOL_ORDER:
            return base + TOOL_ORDER.index(comm)
        return base + len(TOOL_ORDER) + zlib.crc32(comm.encode("utf-8", "surrogateescape")) % 100

    @contextlib.contextmanager
    def task(self, comm: str, pid: int | None = None):
        """Make the calls inside the block as process `comm` (user space knows who it is:
        modprobe calls finit_module too). Without it each syscall has its usual caller."""
        saved = self._task
        self._task = (self.pid_of(comm) if pid is None else pid, comm)
        try:
            yield
        finally:
            self._task = saved

    def _caller(self, syscall: str):
        """The usual caller of `syscall`, unless task() named one already."""
        return contextlib.nullcontext() if self._task else self.task(SYSCALL_COMM[syscall])

    def _enter(self, syscall: str) -> None:
        """Syscall entry: `current` is the calling task; the ledger records it too."""
        self.syscall = syscall
        self.current = self._task or (self.pid_of(SYSCALL_COMM[syscall]), SYSCALL_COMM[syscall])
        self.memory.set_current(*self.current)

    def machine(self):
        """oops.Machine for report headers: taint, module list, last unloaded."""
        from kcourse.kernel import oops

        names = {0: "live", 1: "coming", 2: "going", 3: "unformed"}
        return oops.Machine(release=self.release, taint=self.tainted,
                            modules=[(m.name, m.taints, names[int(m.state)])
                                     for m in self.modules],
                            last_unloaded=self.last_unloaded[0],
                            last_unloaded_taints=self.last_unloaded[1],
                            # dumpstack.c die_counter: [#1], [#2], ... since boot
                            oops_count=sum(1 for e in self.events if e.kind == "oops"))

    # ================================================================ syscalls
    def finit_module(self, path_or_kofile, params: str = "", flags: int = 0) -> int:
        """finit_module(2). kmod's insmod: the file is read (and decompressed) in user space."""
        self._alive()
        self._enter("finit_module")
        params = _user_string(params)
        if not isinstance(flags, int) or flags & ~7:
            raise KernelErrno(E.EINVAL)
        source, raw = read_source(path_or_kofile)
        return self._load(source, raw, params, flags, None)

    def load_image(self, image: ModuleImage, params: str = "", flags: int = 0) -> int:
        """finit_module for a pre-parsed image (the lean path: no file reading or parsing)."""
        self._alive()
        self._enter("finit_module")
        params = _user_string(params)
        if not isinstance(flags, int) or flags & ~7:
            raise KernelErrno(E.EINVAL)
        return self._load(image.source, b"", params, flags, image)

    def _load(self, source, raw, params, flags, image) -> int:
        self.clock.sleep()
        try:
            return self._loader.load_module(source, raw, params, flags, image)
        except LoadError as err:
            raise KernelErrno(err.errno) from None

    def delete_module(self, name: str, flags: int = os.O_NONBLOCK) -> int:
        """delete_module(2); O_TRUNC forces (CONFIG_MODULE_FORCE_UNLOAD=y)."""
        self._alive()
        self._enter("delete_module")
        # main.c SYSCALL_DEFINE2(delete_module): strncpy_from_user(name, name_user,
        # MODULE_NAME_LEN-1) < 0 -> -EFAULT; the copy stops at a NUL
        name = _user_string(name)
        if not isinstance(flags, int):
            raise KernelErrno(E.EINVAL)
        self.clock.sleep()
        try:
            return self._loader.delete_module(name, flags)
        except LoadError as err:
            raise KernelErrno(err.errno) from None

    def _alive(self) -> None:
        if self.panicked:
            raise TaskKilled("Kernel panic - not syncing: the machine has stopped")

    # ================================================================ module list
    def find_module_all(self, name: str) -> Module | None:
        return self._by_name.get(name)

    def find_module(self, name: str) -> Module | None:
        """main.c find_module: UNFORMED modules are invisible."""
        m = self.find_module_all(name)
        return m if m is not None and m.state != ModuleState.UNFORMED else None

    def link_module(self, mod: Module) -> None:
        self.set_state(mod, None, ModuleState.UNFORMED)
        self.modules.insert(0, mod)  # list_add_rcu: newest first
        self._by_name[mod.name] = mod

    def unlink_module(self, mod: Module) -> None:
        if self._by_name.get(mod.name) is mod:
            del self._by_name[mod.name]
            self.modules.remove(mod)
            self.set_state(mod, mod.state, None)
            if mod.was_live:
                from kcourse.kernel.oops import module_flags

                # delete_module (main.c:763-765) keeps the name and module_flags(mod, buf,
                # false): "(OE)" for an out-of-tree unsigned module, "" for an untainted one
                self.last_unloaded = (mod.name, module_flags(mod.taints, "going",
                                                             show_state=False))
                self.event("unload", mod.name, None)
                self.memory_unloaded(mod.name)

    def sysfs_add(self, mod: Module) -> None:
        mod.sysfs = True

    def sysfs_remove(self, mod: Module) -> None:
        mod.sysfs = False
        for name in [n for n, (m, _mode) in self.devices.items() if m is mod]:
            self.devices.pop(name)

    def memory_unloaded(self, owner: str) -> None:
        self.memory.owner_unloaded(owner)

    def set_state(self, mod: Module, old_or_new, new=...) -> None:
        """Change mod.state, checking the change is one the kernel makes (states.TRANSITIONS)."""
        if new is ...:
            old, new = mod.state, old_or_new
        else:
            old = old_or_new
        if not allowed(old, new):
            raise AssertionError(f"{mod.name}: illegal transition {old} -> {new}")
        if new is not None:
            mod.state = new
        if new == ModuleState.LIVE:
            mod.was_live = True
            self.event("load", mod.name, None)
        self.event("state", mod.name, (None if old is None else old.name,
                                       None if new is None else new.name))

    def event(self, kind: str, module: str, detail) -> None:
        self.events.append(Event(len(self.events), kind, module, detail))

    # ================================================================ references
    def try_module_get(self, mod: Module, why: str = "") -> bool:
        """main.c try_module_get: only while not GOING, and never from zero."""
        if mod.state == ModuleState.GOING or mod.refcnt == 0:
            return False
        mod.refcnt += 1
        self.event("get", mod.name, (mod.module_refcount(), why))
        return True

    def module_put(self, mod: Module, why: str = "") -> None:
        if mod.refcnt > 0:  # atomic_dec_if_positive
            mod.refcnt -= 1
        self.event("put", mod.name, (mod.module_refcount(), why))

    # ================================================================ module code
    @property
    def emulator(self):
        """The emulated CPU and address space that run module code (unicorn, loaded on
        first use)."""
        if self._emulator is None:
            from kcourse.machine.machine import Machine

            self._emulator = Machine(self)
        return self._emulator

    def runs_code(self, mod: Module) -> bool:
        """Whether this module's own machine code runs. It does for every module built out of
        the kernel tree (the course's, a learner's, LKMPG's). Debian's own modules (intree)
        still load as kcourse.behaviors.debian models them, or with an init that returns 0:
        their code calls far more of the kernel than kapi models yet. A test may also hand
        the Kernel a Python behavior for a module."""
        return bool(mod.raw) and mod.name not in self._behaviors and \
            not mod.image.get_modinfo("intree")

    def place_code(self, mod: Module) -> None:
        """move_module + simplify_symbols + apply_relocations into the emulated memory."""
        from kcourse.machine.placement import ModuleCode

        machine = self.emulator
        mod.code = ModuleCode(machine, mod, mod.raw, lambda name: self._bind(name))
        machine.codes.append(mod.code)

    def write_params(self, mod: Module) -> None:
        """The parameters' values into the module's variables (param_set_* stores them)."""
        if mod.code is not None:
            from kcourse.kapi import params

            params.write_values(self.emulator, mod.code)

    def _bind(self, name: str) -> int:
        hit = self.symbols.find(name, gplok=True)
        owner = hit.owner if hit is not None else None
        if owner is not None and owner.code is not None:
            address = owner.code.address(name)
            if address is not None:
                return address
        return self.emulator.kernel_symbol(name)

    def drop_code(self, mod: Module, init_only: bool = False) -> None:
        if mod.code is None:
            return
        if init_only:
            mod.code.free_init()
            return
        mod.code.unmap()
        from kcourse.kapi import chardev

        table = chardev.devices(self.emulator)
        for name in [n for n, d in table.items() if d.module is mod]:
            del table[name]
        self.emulator.codes.remove(mod.code)
        mod.code = None
        mod.raw = b""

    def _behavior(self, mod: Module):
        if mod.behavior is None:
            if mod.name in self._behaviors:
                mod.behavior = self._behaviors[mod.name]
            elif mod.code is not None:
                from kcourse.machine.files import CodeBehavior

                mod.behavior = CodeBehavior(self.emulator, mod.code)
            else:
                from kcourse import behaviors

                mod.behavior = behaviors.lookup(mod.name)
        return mod.behavior

    def _ctx(self, mod: Module) -> ModuleContext:
        if mod.context is None:
            mod.context = ModuleContext(self, mod)
        return mod.context

    def run_init(self, mod: Module) -> int:
        if not mod.init:
            return 0
        return self._run(mod, "init") or 0

    def run_exit(self, mod: Module) -> None:
        self._run(mod, "exit")

    def _run(self, mod: Module, hook: str, *args, path: str = ""):
        behavior = self._behavior(mod)
        fn = getattr(behavior, hook, None) if behavior is not None else None
        if fn is None:
            return 0
        from kcourse.kernel.oops import KernelOops

        try:
            if getattr(behavior, "wants_path", False):
                return fn(self._ctx(mod), *args, path=path)
            return fn(self._ctx(mod), *args)
        except KernelOops as oops:
            self.oops(mod, oops)
        except Exception as exc:
            from kcourse.machine.machine import ModuleFault

            if not isinstance(exc, ModuleFault):
                raise
            from kcourse.machine import faults

            self.oops(mod, faults.report(self.emulator, exc, *self.current))

    def oops(self, mod: Module | None, oops) -> None:
        for level, text in oops.lines:
            self.log.printk(f"\001{level}{text}\n")
        self.tainted |= 1 << TAINT_DIE
        self.event("oops", mod.name if mod else "", str(oops))
        if oops.panic:
            self.panicked = True
        raise TaskKilled()

    # ================================================================ devices
    def register_device(self, name: str, mod: Module, mode: int = 0o600) -> None:
        self.devices[name] = (mod, mode)

    def unregister_device(self, name: str) -> None:
        self.devices.pop(name, None)

    def open(self, path: str) -> int:
        self._alive()
        self._enter("open")
        path = _norm(_user_string(path))  # getname(): a bad user pointer is -EFAULT
        owner = None
        if path.startswith("/dev/"):
            entry = self.devices.get(path[5:])
            if entry is None:
                raise KernelErrno(E.ENOENT)
            owner = entry[0]
            if not self.try_module_get(owner, why=f"open {path}"):  # fops_get
                raise KernelErrno(E.ENODEV)
            try:
                ret = self._run(owner, "open", path=path)
            except TaskKilled:
                raise
            if ret and ret < 0:
                self.module_put(owner, why=f"open {path} failed")
                raise KernelErrno(-ret)
        else:
            self._lookup(path)  # raises ENOENT / EISDIR semantics for non-files
        fd = 3
        while fd in self.fds:
            fd += 1
        self.fds[fd] = (path, owner)
        return fd

    def close(self, fd: int) -> int:
        self._alive()
        self._enter("close")
        if fd not in self.fds:
            raise KernelErrno(E.EBADF)
        path, owner = self.fds.pop(fd)
        if owner is not None:
            if owner in self.modules:
                self._run(owner, "release", path=path)
            self.module_put(owner, why=f"close {path}")  # fops_put
        return 0

    # ================================================================ VFS
    def _device_call(self, path: str, hook: str, *args):
        """open, read or write, close of a module's device file by one process."""
        with self._caller(hook):
            fd = self.open(path)
            try:
                self.syscall = hook
                return self._run(self.fds[fd][1], hook, *args, path=path)
            finally:
                self.close(fd)

    def read_file(self, path: str) -> str:
        self._alive()
        path = _norm(_user_string(path))  # getname(): a bad user pointer is -EFAULT
        if path.startswith("/dev/") and path[5:] in self.devices:
            out = self._device_call(path, "read")  # `cat /dev/x`
            return out if isinstance(out, str) else ""
        node = self._lookup(path)
        if node[0] == "dir":
            raise KernelErrno(E.EISDIR)
        _kind, mode, reader, _writer = node
        if reader is None or not mode & 0o444:
            raise KernelErrno(E.EACCES)
        return reader()

    def write_file(self, path: str, text: str) -> int:
        self._alive()
        path = _norm(_user_string(path))  # getname(): a bad user pointer is -EFAULT
        if not isinstance(text, str):
            raise KernelErrno(E.EFAULT)  # write(2) from a bad buffer: copy_from_user fails
        if path.startswith("/dev/") and path[5:] in self.devices:
            ret = self._device_call(path, "write", text)  # `echo text > /dev/x`: bash writes
            if isinstance(ret, int) and ret < 0:
                raise KernelErrno(-ret)
            return len(text)
        node = self._lookup(path)
        if node[0] == "dir":
            raise KernelErrno(E.EISDIR)
        _kind, mode, _reader, writer = node
        if writer is None or not mode & 0o222:
            raise KernelErrno(E.EACCES)
        writer(text)
        return len(text)

    def list_dir(self, path: str) -> list[DirEntry]:
        self._alive()
        path = _norm(_user_string(path))  # getname(): a bad user pointer is -EFAULT
        node = self._lookup(path)
        if node[0] != "dir":
            raise KernelErrno(E.ENOTDIR)
        return sorted(node[1](), key=lambda e: e.name)

    def exists(self, path: str) -> bool:
        try:
            self._lookup(_norm(_user_string(path)))
            return True
        except KernelErrno:
            return False

    def _lookup(self, path: str):
        """("dir", lister) or ("file", mode, reader, writer); KernelErrno(ENOENT) if absent."""
        return vfs_lookup(self, path)

    # ================================================================ views
    def dmesg_lines(self) -> list[str]:
        return self.log.lines()

    def proc_modules(self) -> str:
        return procfs.proc_modules(self)

    def snapshot(self) -> tuple:
        """Everything a user can observe, except the log and the taint mask (see module doc)."""
        mem = self.memory
        held = tuple(sorted((o, mem.held_by(o)) for o in mem.owners()))
        fds = tuple((fd, p, o.name if o else None) for fd, (p, o) in sorted(self.fds.items()))
        devices = tuple(sorted((n, m.name, mode) for n, (m, mode) in self.devices.items()))
        return (tuple(m.snapshot() for m in self.modules), fds, devices, held,
                self.vm.snapshot())

    def refcount_expected(self, mod: Module) -> int:
        """Dependents plus open files: what module_refcount() must equal when LIVE."""
        opens = sum(1 for _p, o in self.fds.values() if o is mod)
        return len(mod.source_list) + opens


def _user_string(value) -> str:
    """A string argument as the kernel copies it from user space (strndup_user,
    strncpy_from_user, getname): what is not a string is not a readable C string, -EFAULT;
    the copy ends at the first NUL."""
    if not isinstance(value, str):
        raise KernelErrno(E.EFAULT)
    end = value.find("\0")
    return value if end < 0 else value[:end]


def _norm(path: str) -> str:
    if path.startswith("/") and "//" not in path and "/." not in path and \
            not path.endswith("/"):
        return path
    parts = [p for p in path.split("/") if p and p != "."]
    out: list[str] = []
    for p in parts:
        if p == "..":
            if out:
                out.pop()
        else:
            out.append(p)
    return "/" + "/".join(out)

