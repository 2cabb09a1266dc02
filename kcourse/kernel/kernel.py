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
from kcourse.kernel.chrdevs import ChrdevTable
from kcourse.kernel.context import ModuleContext
from kcourse.kernel.errno import KernelErrno
from kcourse.kernel.image import ModuleImage, read_source
from kcourse.kernel.loader import Loader, LoadError
from kcourse.kernel.module import Module
from kcourse.kernel.nodes import Node, NodeTable
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
    kind: str  # "file" | "dir" | "link" | "chr" | "blk"
    target: str | None = None
    size: int | None = None  # st_size when the file system says (None: the shell's default)
    uid: int = 0
    gid: int = 0
    rdev: int = 0  # a device node's dev_t (MKDEV: major << 20 | minor), for ls -l and stat


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


def returns_to_user(syscall):
    """A system call's end is where the machine runs what became runnable or due meanwhile
    (kernel threads, work, softirqs: kcourse.machine.scheduler), before the caller goes on."""

    @functools.wraps(syscall)
    def call(self, *args, **kwargs):
        try:
            return syscall(self, *args, **kwargs)
        finally:
            self.run_deferred()

    return call


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
        self.nodes = NodeTable()  # the files modules made in /proc, /sys, /dev (kapi)
        self.chrdevs = ChrdevTable()  # fs/char_dev.c chrdevs[]: /proc/devices
        self._handles: dict[int, object] = {}  # fd -> open handle of a module's file (nodes)
        self.panicked = False
        self._behaviors = behaviors or {}
        self._emulator = None  # kcourse.machine.Machine, made when module code first runs
        self.run_intree_code = False  # run Debian's own modules' code too (the kapi frontier)
        # Debian modules whose init was not run (runs_code): (name, first unmodelled, count)
        self.notes: list[tuple[str, str, int]] = []
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
    @returns_to_user
    def finit_module(self, path_or_kofile, params: str = "", flags: int = 0) -> int:
        """finit_module(2). kmod's insmod: the file is read (and decompressed) in user space."""
        self._alive()
        self._enter("finit_module")
        params = _user_string(params)
        if not isinstance(flags, int) or flags & ~7:
            raise KernelErrno(E.EINVAL)
        source, raw = read_source(path_or_kofile)
        return self._load(source, raw, params, flags, None)

    @returns_to_user
    def load_image(self, image: ModuleImage, params: str = "", flags: int = 0) -> int:
        """finit_module for a pre-parsed image (the lean path: no file reading or parsing)."""
        self._alive()
        self._enter("finit_module")
        params = _user_string(params)
        if not isinstance(flags, int) or flags & ~7:
            raise KernelErrno(E.EINVAL)
        return self._load(image.source, b"", params, flags, image)

    def _load(self, source, raw, params, flags, image) -> int:
        self.pass_time(self.clock.pause())  # the human typing the command
        before = self.memory._ids
        try:
            return self._loader.load_module(source, raw, params, flags, image)
        except LoadError as err:
            raise KernelErrno(err.errno) from None
        except SimulatorLimit:
            # the loader took its error path; what the module's code allocated goes too
            for owner in {a.owner for a in self.memory.outstanding() if a.id > before}:
                if self.find_module_all(owner) is None:
                    self.memory.rollback(owner, before)
            if self._emulator is not None:  # the modules it cut off are gone with the load
                loaded = {m.name for m in self.modules}
                self._emulator.abandoned[:] = [n for n in self._emulator.abandoned
                                               if n in loaded]
            raise

    @returns_to_user
    def delete_module(self, name: str, flags: int = os.O_NONBLOCK) -> int:
        """delete_module(2); O_TRUNC forces (CONFIG_MODULE_FORCE_UNLOAD=y)."""
        self._alive()
        self._enter("delete_module")
        # main.c SYSCALL_DEFINE2(delete_module): strncpy_from_user(name, name_user,
        # MODULE_NAME_LEN-1) < 0 -> -EFAULT; the copy stops at a NUL
        name = _user_string(name)
        if not isinstance(flags, int):
            raise KernelErrno(E.EINVAL)
        self.pass_time(self.clock.pause())
        try:
            return self._loader.delete_module(name, flags)
        except LoadError as err:
            raise KernelErrno(err.errno) from None

    # ================================================================ time
    def pass_time(self, usec: int) -> None:
        """`usec` microseconds go by with no system call running (a human typing, `sleep`):
        timers due meanwhile fire and what they wake runs (kcourse.machine.scheduler)."""
        sched = self._emulator.objects.get("sched") if self._emulator is not None else None
        if sched is None:
            self.clock.advance(usec)
        else:
            sched.pass_time(usec)

    def run_deferred(self) -> None:
        """Return to user space: runnable kernel threads and pending softirq work run."""
        sched = self._emulator.objects.get("sched") if self._emulator is not None else None
        if sched is not None:
            sched.return_to_user()

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
        # A module's misc device outlives it when it was not deregistered (a missing
        # misc_deregister in exit or in init's error path): Linux keeps /dev/<name> and the
        # entry in misc_list (drivers/char/misc.c), pointing into the freed module.
        from kcourse.kapi import chardev

        left = set(chardev.devices(self.emulator)) if self._emulator is not None else set()
        for name in [n for n, (m, _mode, _rdev) in self.devices.items()
                     if m is mod and n not in left]:
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
            space = self._emulator.space
            self.memory.contents_reader(space.read)  # kmemleak's dump shows what code wrote
        return self._emulator

    def runs_code(self, mod: Module) -> bool:
        """Whether this module's own machine code runs. It does for every module built out of
        the kernel tree (the course's, a learner's, LKMPG's). A Debian module (intree) runs
        its code when every kernel function it calls is modelled, as every one the lessons
        load is; any other (the softdep scenario's netfilter modules among them) gets an
        init that returns 0, and a note (Kernel.notes) says so and why. A test may hand the
        Kernel a Python behavior for a module."""
        if not mod.raw or mod.name in self._behaviors:
            return False
        if self.run_intree_code or not mod.image.get_modinfo("intree"):
            return True
        missing = self._unmodelled(mod)
        if missing and mod.init:
            self.notes.append((mod.name, missing[0], len(missing)))
        return not missing

    def _unmodelled(self, mod: Module) -> list[str]:
        """The kernel symbols this module uses that kapi does not model, sorted."""
        from kcourse.kapi import registry
        from kcourse.machine.cpu import INDIRECT_THUNK_REGS
        from kcourse.machine.tasks import PERCPU_OFFSETS

        registry.load_all()
        real_code = {"__fentry__", "__x86_return_thunk"} | {
            f"__x86_indirect_thunk_{r}" for r in INDIRECT_THUNK_REGS}
        out = []
        for name, _value, _info, shndx in mod.image.symbols:
            if not name or shndx != 0 or name in real_code or name in registry.FUNCTIONS \
                    or name in registry.DATA or name in PERCPU_OFFSETS:
                continue
            hit = self.symbols.find(name, gplok=True)
            if hit is not None and hit.owner is not None and hit.owner.code is not None:
                continue  # another module's export, running on the CPU too
            out.append(name)
        return sorted(set(out))

    def take_notes(self) -> list[str]:
        """The simulator's notes since the last call (the shell prints them on stderr after
        the command): the Debian modules whose init did not run, as one line; the modules a
        stop cut off mid-call, as another."""
        notes, self.notes = self.notes, []
        said = self._abandoned_note()
        if not notes:
            return said
        return self._skipped_inits(notes) + said

    def _abandoned_note(self) -> list[str]:
        """After a simulator stop cut a loaded module's code off mid-call (not during its
        load, which is unwound), one line: its state is what the code had done so far,
        which the real kernel, where the call goes on, would not be left in."""
        if self._emulator is None or not self._emulator.abandoned:
            return []
        names, self._emulator.abandoned[:] = ", ".join(self._emulator.abandoned), []
        return [f"kcourse: note: the stop cut {names} off mid-call: what that code did "
                "before it stays done (any lock it took is still held, anything it allocated "
                "is kept), so from here this simulated kernel may differ from the real one; "
                "a fresh one (`%%kshell --new`, a new `kcourse sim`) starts clean"]

    def _skipped_inits(self, notes) -> list[str]:
        if len(notes) == 1:
            name, first, count = notes[0]
            more = f" and {count - 1} more" if count > 1 else ""
            return [f"kcourse: note: {name}'s init did not run in the simulator: it calls "
                    f"{first}(){more}, which kcourse does not model (docs/kapi.md); "
                    "`kcourse sim --real` runs it on the real kernel"]
        names = ", ".join(name for name, _f, _c in notes)
        return [f"kcourse: note: the init of {names} did not run in the simulator: their code "
                "calls kernel functions kcourse does not model (docs/kapi.md); "
                "`kcourse sim --real` runs them on the real kernel"]

    def place_code(self, mod: Module) -> None:
        """move_module + simplify_symbols + apply_relocations into the emulated memory."""
        from kcourse.machine.address_space import OutOfMemory
        from kcourse.machine.placement import ModuleCode

        machine = self.emulator
        try:
            mod.code = ModuleCode(machine, mod, mod.raw, lambda name: self._bind(name))
        except OutOfMemory:
            for lay in (mod.core_layout, mod.init_layout):  # what it had mapped goes back
                if lay.base and lay.size:
                    machine.space.unmap(lay.base, lay.size)
            raise SimulatorLimit(f"kcourse: {mod.name}: the emulated machine's "
                                 f"{machine.space.ram_bytes >> 20} MiB of RAM is full, so "
                                 "its code cannot be placed; run it on the real kernel with "
                                 "`kcourse sim --real`") from None
        machine.codes.append(mod.code)

    def bind_param_ops(self, mod: Module) -> None:
        """module_param_cb parameters: their set/get are the module's own code."""
        if mod.code is not None:
            from kcourse.kapi import params

            params.bind_custom_ops(self.emulator, mod.code)

    def write_params(self, mod: Module) -> None:
        """The parameters' values into the module's variables (param_set_* stores them)."""
        if mod.code is not None:
            from kcourse.kapi import params

            params.write_values(self.emulator, mod.code)

    def read_params(self, mod: Module) -> None:
        """The parameters' values from the module's variables (param_get_* reads them)."""
        if mod.code is not None:
            from kcourse.kapi import params

            params.read_values(self.emulator, mod.code)

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

        for device in chardev.devices(self.emulator).values():
            if device.module is mod:
                device.stale = True  # never deregistered: it stays, its module is gone
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
        return mod.behavior  # None: a Debian module whose code does not run (Kernel.notes)

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
        if getattr(behavior, "wants_path", False):
            return self.run_code(mod, fn, self._ctx(mod), *args, path=path)
        return self.run_code(mod, fn, self._ctx(mod), *args)

    def run_code(self, mod: Module | None, fn, *args, **kwargs):
        """fn(*args), which runs module code (mod's, if known): a fault in it is the kernel's
        oops, and the calling task dies (TaskKilled)."""
        from kcourse.kernel.oops import KernelOops

        try:
            return fn(*args, **kwargs)
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
    def register_device(self, name: str, mod: Module, mode: int = 0o600, rdev: int = 0) -> None:
        """/dev/<name>, owned by `mod`; rdev its dev_t (0: none known, a behavior's device)."""
        self.devices[name] = (mod, mode, rdev)

    def unregister_device(self, name: str) -> None:
        self.devices.pop(name, None)

    @returns_to_user
    def open(self, path: str, flags: int = os.O_RDONLY) -> int:
        """open(2); flags matter to the files modules make (O_WRONLY: FMODE_WRITE)."""
        self._alive()
        self._enter("open")
        path = _norm(_user_string(path))  # getname(): a bad user pointer is -EFAULT
        owner = None
        node = self.nodes.get(path)
        if node is not None and not node.is_dir:
            return self._open_node(path, node, flags)
        if path.startswith("/dev/"):
            entry = self.devices.get(path[5:])
            if entry is None:
                raise KernelErrno(E.ENOENT)
            owner = entry[0]
            if owner not in self.modules:
                raise SimulatorLimit(f"kcourse: {path} is the device of {owner.name}, which is "
                                     "gone without deregistering it: Linux's open reads the "
                                     "freed module's memory (misc_open) and oopses; that oops "
                                     "is not modelled")
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

    def may_open(self, path: str, flags: int) -> int:
        """The errno open(path, flags) would fail with before any module code runs (kernfs's
        permission checks), 0 if none: what the shell asks before a redirection."""
        node = self.nodes.get(_norm(_user_string(path)))
        check = getattr(node.ops, "may_open", None) if node is not None else None
        return check(node, flags) if check is not None else 0

    def _open_node(self, path: str, node, flags: int) -> int:
        """open(2) of a file a module made: its ops open it (running the module's open)."""
        handle = self.run_code(node.owner, node.ops.open, node, flags)
        fd = 3
        while fd in self.fds:
            fd += 1
        self.fds[fd] = (path, handle.refs[0] if handle.refs else None)
        self._handles[fd] = handle
        return fd

    @returns_to_user
    def close(self, fd: int) -> int:
        self._alive()
        self._enter("close")
        if fd not in self.fds:
            raise KernelErrno(E.EBADF)
        handle = self._handles.pop(fd, None)
        if handle is not None:  # __fput: ->release, then the references the open took
            self.fds.pop(fd)
            try:
                self.run_code(handle.node.owner, handle.release)
            finally:
                for mod in handle.refs:
                    self.module_put(mod, why=f"close {handle.node.path}")
            return 0
        path, owner = self.fds.pop(fd)
        if owner is not None:
            if owner in self.modules:
                self._run(owner, "release", path=path)
            self.module_put(owner, why=f"close {path}")  # fops_put
        return 0

    @returns_to_user
    def read(self, fd: int, count: int) -> bytes:
        """read(2) once on a file a module serves (head -c, dd): the bytes its ->read gave.
        A file the kernel itself serves is read whole with read_file()."""
        self._alive()
        self._enter("read")
        handle = self._served(fd, "kcourse: read(2) of part of {} is not modelled (only whole "
                              "reads, as cat makes them)")
        self.syscall = "read"
        return self.run_code(handle.node.owner, handle.read_call, count)

    @returns_to_user
    def write(self, fd: int, text: str) -> int:
        """write(2) on an open file a module serves, again while it takes less than all (as
        glibc's callers do): the bytes written, or -errno."""
        self._alive()
        self._enter("write")
        handle = self._served(fd, "kcourse: write(2) on an open {} is not modelled (only "
                              "whole writes, as bash's echo makes them)")
        self.syscall = "write"
        return self.run_code(handle.node.owner, handle.write, text)

    def _served(self, fd: int, limit: str):
        """The handle of an open file a module serves; EBADF for no such fd, and `limit`
        (with the file's path) for a file the kernel itself serves."""
        if fd not in self.fds:
            raise KernelErrno(E.EBADF)
        handle = self._handles.get(fd)
        if handle is None:
            raise SimulatorLimit(limit.format(self.fds[fd][0]))
        return handle

    def mknod(self, path: str, mode: int, dev: int) -> None:
        """mknod(2) of a character device in devtmpfs (fs/namei.c vfs_mknod, on shmem): an
        inode with i_rdev = dev whose open is chrdev_open (fs/char_dev.c def_chr_fops), which
        finds the cdev registered under that number only when opened (-ENXIO if none)."""
        self._alive()
        path = _norm(_user_string(path))
        if not path.startswith("/dev/") or "/" in path[5:]:
            raise SimulatorLimit(f"kcourse: mknod {path}: only nodes directly in /dev are "
                                 "modelled")
        if self.nodes.get(path) is not None or path[5:] in self.devices or self.exists(path):
            raise KernelErrno(E.EEXIST)
        self.nodes.add(Node(path, stat.S_IFCHR | (mode & 0o7777), ops=_DevNodeOps(self),
                            rdev=dev))

    def unlink(self, path: str) -> None:
        """unlink(2) of a /dev node mknod made (devtmpfs's own nodes, and /proc and /sys
        entries, are refused: see the messages)."""
        self._alive()
        path = _norm(_user_string(path))
        node = self.nodes.get(path)
        if node is not None and isinstance(node.ops, _DevNodeOps):
            self.nodes.remove(path)  # an open file keeps its inode (and its cdev) meanwhile
            return
        if not self.exists(path):
            raise KernelErrno(E.ENOENT)
        if path.startswith("/dev/"):
            raise SimulatorLimit(f"kcourse: rm {path}: removing a node devtmpfs made for a "
                                 "driver is not modelled (only nodes made with mknod)")
        # proc and kernfs directories have no ->unlink (fs/namei.c vfs_unlink: -EPERM)
        raise KernelErrno(E.EPERM)

    # ================================================================ VFS
    def _device_call(self, path: str, hook: str, *args):
        """open, read or write, close of a module's device file by one process."""
        with self._caller(hook):
            # cat opens O_RDONLY; bash's `>` O_WRONLY|O_CREAT|O_TRUNC
            fd = self.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC if hook == "write"
                           else os.O_RDONLY)
            try:
                self.syscall = hook
                handle = self._handles.get(fd)
                try:
                    if handle is not None:
                        return self.run_code(handle.node.owner, getattr(handle, hook), *args)
                    return self._run(self.fds[fd][1], hook, *args, path=path)
                finally:
                    # the read or write returns to user space: what it woke runs before the
                    # close (a woken job preempts the caller there, as recorded in
                    # tests/data/sched/sk_jobs.real)
                    self.run_deferred()
            finally:
                self.close(fd)

    def _node_file(self, path: str):
        node = self.nodes.get(path)
        if node is not None and node.is_dir:
            raise KernelErrno(E.EISDIR)
        return node

    @returns_to_user
    def read_file(self, path: str) -> str:
        self._alive()
        path = _norm(_user_string(path))  # getname(): a bad user pointer is -EFAULT
        if self._node_file(path) is not None or \
                path.startswith("/dev/") and path[5:] in self.devices:
            out = self._device_call(path, "read")  # `cat /dev/x`
            return out if isinstance(out, str) else ""
        node = self._lookup(path)
        if node[0] == "dir":
            raise KernelErrno(E.EISDIR)
        _kind, mode, reader, _writer = node
        if reader is None or not mode & 0o444:
            raise KernelErrno(E.EACCES)
        return reader()

    @returns_to_user
    def write_file(self, path: str, text: str) -> int:
        self._alive()
        path = _norm(_user_string(path))  # getname(): a bad user pointer is -EFAULT
        if not isinstance(text, str):
            raise KernelErrno(E.EFAULT)  # write(2) from a bad buffer: copy_from_user fails
        if self._node_file(path) is not None or \
                path.startswith("/dev/") and path[5:] in self.devices:
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
        devices = tuple(sorted((n, m.name, mode, rdev)
                               for n, (m, mode, rdev) in self.devices.items()))
        return (tuple(m.snapshot() for m in self.modules), fds, devices, held,
                self.vm.snapshot(), self.nodes.snapshot(), self.chrdevs.snapshot())

    def refcount_expected(self, mod: Module) -> int:
        """Dependents plus the references open files hold: what module_refcount() must equal
        when LIVE (a char device's open holds two: chrdev_open's cdev_get and fops_get)."""
        opens = 0
        for fd, (_p, owner) in self.fds.items():
            handle = self._handles.get(fd)
            opens += handle.refs.count(mod) if handle is not None else owner is mod
        return len(mod.source_list) + opens

    def forget_objects(self, mod: Module) -> None:
        """A load the simulator stopped: take away what its init made (files, device
        numbers), so the machine is as it was before the insmod."""
        self.nodes.forget(mod)
        self.chrdevs.forget(mod)
        if self._emulator is not None:  # what kapi keeps in emulated memory's objects
            for forget in self._emulator.objects.get("forget", ()):
                forget(mod)


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


class _DevNodeOps:
    """What serves a node mknod made: def_chr_fops.open, i.e. chrdev_open (kcourse.kapi.cdev),
    on the emulated machine (loaded at the first open, not at mknod)."""

    def __init__(self, kernel: Kernel):
        self.kernel = kernel

    def open(self, node, flags: int):
        from kcourse.kapi.cdev import ChrdevOps

        return ChrdevOps(self.kernel.emulator).open(node, flags)
