"""What a panel needs from whatever runs its commands: the simulated kernel, or the
real-kernel lab (kcourse.lab.session.RealShell). Panels only talk to a PanelBackend, so the
same panel drives either.

A backend is anything with `run(line) -> kcourse.backend.CommandResult` (kcourse.shell.Shell,
the lab's RealShell). With the simulated kernel behind it, the views read /proc and /sys
straight from the kernel's VFS (fast with many modules loaded) and see every enum
module_state, UNFORMED included. Any other backend gets one batch of ordinary shell lines
after each command (lsmod, ls -l and grep over /sys/module/<m>), run with
`run_script` when it has one: one call to the lab's live guest, not one per line.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

from kcourse.backend import CommandResult

COURSE_DIR = "/root/modules"  # where kcourse.shell (and the lab) keep data/modules
SYSFS_SKIPPED = ("uevent",)  # write-only (mode 0200), kernel/module/sysfs.c


@dataclass
class Views:
    """What the panel shows about the kernel after a command."""

    lsmod: str = ""
    sysfs: list[tuple[str, str]] = field(default_factory=list)  # (entry, content)
    state: str | None = None  # enum module_state name, None = not in the modules list
    refcount: int | None = None
    dmesg: list[str] = field(default_factory=list)  # whole log with timestamps (simulator)


def _is_sim_kernel(obj) -> bool:
    from kcourse.kernel import Kernel

    return isinstance(obj, Kernel)


class PanelBackend:
    """A shell (for kmod's texts) plus, when there is one, the simulated kernel behind it."""

    def __init__(self, target=None):
        if isinstance(target, PanelBackend):
            self.shell, self.kernel = target.shell, target.kernel
            return
        if target is None or _is_sim_kernel(target):
            from kcourse.shell import Shell

            self.shell = Shell(target)
            self.kernel = self.shell.kernel
        elif hasattr(target, "run"):
            self.shell = target
            inner = getattr(target, "kernel", None)
            self.kernel = inner if _is_sim_kernel(inner) else None
        else:
            raise TypeError(f"a panel needs a Kernel or a shell backend, not {type(target)!r}")

    # ------------------------------------------------------------------ commands
    def run(self, line: str) -> CommandResult:
        return self.shell.run(line)

    def run_lines(self, lines: list[str]) -> list[CommandResult]:
        """Several lines in one go (one call to the lab's guest)."""
        script = getattr(self.shell, "run_script", None)
        if script is not None and self.kernel is None:
            return list(script("\n".join(lines)))
        return [self.shell.run(line) for line in lines]

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

    def execute(self, line: str | None, module: str) -> tuple[CommandResult | None, Views]:
        """Run `line` (if any), then collect the views of `module`."""
        if self.kernel is not None:
            result = self.run(line) if line else None
            return result, self._sim_views(module)
        view_lines = _view_lines(module)
        results = self.run_lines(([line] if line else []) + view_lines)
        result = results[0] if line else None
        return result, _parse_views(results[-len(view_lines):], module)

    # ------------------------------------------------------------------ the simulator
    def _sim_views(self, module: str) -> Views:
        k = self.kernel
        mod = k.find_module(module)
        views = Views(lsmod=self.run("lsmod").stdout, dmesg=list(k.dmesg_lines()),
                      state=mod.state.name if mod is not None else None)
        base = f"/sys/module/{module}"
        entries = self._list(base)
        for name, is_dir in entries or []:
            path = f"{base}/{name}"
            if not is_dir:
                if name not in SYSFS_SKIPPED:
                    views.sysfs.append((name, self._read(path)))
                continue
            inner = self._list(path) or []
            if name == "parameters":
                views.sysfs += [(f"parameters/{p}", self._read(f"{path}/{p}")) for p, _ in inner]
            elif name in ("sections", "notes"):
                views.sysfs.append((f"{name}/", f"{len(inner)} entries"))
            else:
                views.sysfs.append((f"{name}/", " ".join(n for n, _ in inner)))
        refcnt = dict(views.sysfs).get("refcnt")
        views.refcount = int(refcnt) if refcnt and refcnt.isdigit() else None
        return views

    def _read(self, path: str) -> str:
        try:
            return self.kernel.read_file(path).strip()
        except Exception:  # KernelErrno: EACCES and the like, as `cat` would report
            return "(not readable)"

    def _list(self, path: str) -> list[tuple[str, bool]] | None:
        try:
            return [(e.name, e.kind == "dir") for e in self.kernel.list_dir(path)]
        except Exception:  # KernelErrno(ENOENT): the module is not loaded
            return None

    # ------------------------------------------------------------------ kernel objects
    def events(self) -> list | None:
        """The simulated kernel's event list (load/state/get/put/...), or None for a backend
        that has none (the panel then samples /sys/module/<m>/refcnt after each command)."""
        return self.kernel.events if self.kernel is not None else None

    def devices(self, module: str) -> list[str]:
        """/dev paths of the devices a loaded module registered (misc_register & co); for a
        backend without a simulated kernel, the usual guess /dev/<module>."""
        if self.kernel is None:
            return [f"/dev/{module}"]
        return sorted(f"/dev/{name}" for name, (mod, _mode, _rdev) in self.kernel.devices.items()
                      if mod.name == module)

    def open_fds(self) -> dict[int, str] | None:
        """The shell's open descriptors (exec N</dev/x) and their paths, if it tells."""
        fds = getattr(self.shell, "fds", None)
        if not isinstance(fds, dict):
            return None
        return {fd: entry[0] for fd, entry in sorted(fds.items())}


def _view_lines(module: str) -> list[str]:
    base = f"/sys/module/{module}"
    return ["lsmod", f"ls -l {base}", f"grep . {base}/* {base}/parameters/*",
            f"ls {base}/holders"]


def _parse_views(results: list[CommandResult], module: str) -> Views:
    """Views from the output of _view_lines (GNU tools' formats; errors mean "absent")."""
    lsmod, ls_l, grep, holders = results
    base = f"/sys/module/{module}/"
    values: dict[str, str] = {}
    for line in grep.stdout.splitlines():
        path, _, text = line.partition(":")
        if path.startswith(base):
            values.setdefault(path[len(base):], text)
    rows: list[tuple[str, str]] = []
    for line in ls_l.stdout.splitlines() if ls_l.ok else []:
        fields = line.split(None, 8)  # mode links owner group size month day time name
        if len(fields) < 9:
            continue  # "total N"
        name = fields[8].split(" -> ")[0]
        if fields[0].startswith("d"):
            if name == "parameters":
                rows += [(k, v) for k, v in values.items() if k.startswith("parameters/")]
            elif name == "holders":
                rows.append(("holders/", " ".join(holders.stdout.split())))
            else:
                rows.append((f"{name}/", ""))
        elif name not in SYSFS_SKIPPED:
            rows.append((name, values.get(name, "(not readable)")))
    initstate = values.get("initstate")
    refcnt = values.get("refcnt", "")
    return Views(lsmod=lsmod.stdout, sysfs=rows,
                 state=initstate.strip().upper() if initstate else None,
                 refcount=int(refcnt) if refcnt.strip().isdigit() else None)
