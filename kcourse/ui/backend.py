"""What a panel needs from whatever runs its commands: the simulated kernel, or later the
real-kernel lab. Panels only talk to a PanelBackend, so the same panel drives either.

A backend is anything with `run(line) -> kcourse.backend.CommandResult` (kcourse.shell.Shell,
the lab's shell). When it also exposes a simulated `kernel` (or *is* a Kernel), reads of
/proc and /sys go straight to the kernel's VFS instead of through `cat`, which keeps a panel
fast with many modules loaded, and device files can be opened and closed.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from kcourse.backend import CommandResult

COURSE_DIR = "/root/modules"  # where kcourse.shell (and the lab) keep data/modules


class PanelBackend:
    """A shell (for kmod's texts) plus, when there is one, the simulated kernel behind it."""

    def __init__(self, target=None):
        if isinstance(target, PanelBackend):
            self.shell, self.kernel = target.shell, target.kernel
            return
        if target is None:
            from kcourse.kernel import Kernel

            target = Kernel(seed=0)
        if hasattr(target, "finit_module"):  # a simulated Kernel: give it a shell
            from kcourse.shell import Shell

            self.kernel = target
            self.shell = Shell(target)
        elif hasattr(target, "run"):
            self.shell = target
            self.kernel = getattr(target, "kernel", None)
        else:
            raise TypeError(f"a panel needs a Kernel or a shell backend, not {type(target)!r}")

    # ------------------------------------------------------------------ commands
    def run(self, line: str) -> CommandResult:
        return self.shell.run(line)

    def ko_arg(self, path) -> str:
        """A .ko as the shell sees it, quoted: course modules under /root/modules (relative
        to it when the shell is there, as a learner would type it), other files at their path.
        """
        from kcourse.paths import modules_dir

        try:
            rel = Path(path).resolve().relative_to(modules_dir().resolve())
        except ValueError:
            return shlex.quote(str(path))
        if getattr(self.shell, "cwd", COURSE_DIR) == COURSE_DIR:
            return shlex.quote(str(rel))
        return shlex.quote(f"{COURSE_DIR}/{rel}")

    # ------------------------------------------------------------------ reading state
    def read(self, path: str) -> str | None:
        """A file's text, or None when it cannot be read (ENOENT, EACCES, a directory)."""
        if self.kernel is not None:
            try:
                return self.kernel.read_file(path)
            except Exception:  # KernelErrno: the file is not there or not readable
                return None
        result = self.run(f"cat {shlex.quote(path)}")
        return result.stdout if result.ok else None

    def listdir(self, path: str) -> list[tuple[str, bool]] | None:
        """[(name, is_directory)] in ls order, or None when the directory does not exist."""
        if self.kernel is not None:
            try:
                return [(e.name, e.kind == "dir") for e in self.kernel.list_dir(path)]
            except Exception:
                return None
        result = self.run(f"ls -l {shlex.quote(path)}")
        if not result.ok:
            return None
        entries = []
        for line in result.stdout.splitlines():
            fields = line.split(None, 8)  # mode links owner group size month day time name
            if len(fields) < 9:
                continue  # "total N"
            entries.append((fields[8].split(" -> ")[0], fields[0].startswith("d")))
        return entries

    def dmesg(self) -> list[str]:
        """Every line of the kernel log, with its timestamp, as `dmesg` prints it."""
        if self.kernel is not None:
            return list(self.kernel.dmesg_lines())
        return self.run("dmesg").stdout.splitlines()

    def state(self, module: str) -> str | None:
        """The module's enum module_state name, or None when it is not in the modules list.

        The simulator says UNFORMED too; a real kernel only shows live/coming/going in
        /sys/module/<m>/initstate (main.c show_initstate).
        """
        if self.kernel is not None:
            mod = self.kernel.find_module(module)
            return mod.state.name if mod is not None else None
        text = self.read(f"/sys/module/{module}/initstate")
        return text.strip().upper() if text else None

    def refcount(self, module: str) -> int | None:
        text = self.read(f"/sys/module/{module}/refcnt")
        try:
            return int(text) if text is not None else None
        except ValueError:
            return None

    def events(self) -> list | None:
        """The simulated kernel's event list (load/state/get/put/...), or None for a backend
        that has none (the panel then samples /sys/module/<m>/refcnt after each command)."""
        return self.kernel.events if self.kernel is not None else None

    # ------------------------------------------------------------------ device files
    def devices(self, module: str) -> list[str]:
        """/dev paths of the devices a loaded module registered (misc_register & co); for a
        backend without a simulated kernel, the usual guess /dev/<module>."""
        if self.kernel is None:
            return [f"/dev/{module}"]
        return sorted(f"/dev/{name}" for name, (mod, _mode) in self.kernel.devices.items()
                      if mod.name == module)

    def open_fds(self) -> dict[int, str]:
        """The shell's open descriptors (exec N</dev/x) and their paths."""
        fds = getattr(self.shell, "fds", {})
        return {fd: entry[0] for fd, entry in sorted(fds.items())}

