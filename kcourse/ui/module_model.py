"""The module panel's model: which module, which parameters, what each button runs, and
what the views show afterwards. No widgets here; ModulePanel only draws this.

Every button is a shell line run through the backend's shell, so what the learner sees is
kmod's and bash's own text (`insmod hello/hello.ko count=3`, `rmmod -f hello`,
`exec 3</dev/kcdev`, `exec 3<&-`). A refused line changes nothing in the kernel, and the
model's views are read back from the kernel, so they do not change either.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from kcourse.backend import CommandResult
from kcourse.elf.kofile import KoFile
from kcourse.errors import KcourseError
from kcourse.ui.backend import PanelBackend, Views
from kcourse.ui.choices import resolve_choice
from kcourse.ui.params import ParamSpec, command_args, param_specs

ACTIONS = ("insmod", "rmmod", "rmmod -f", "modprobe", "modprobe -r", "open", "close")
MAX_CHARTED = 6  # modules drawn on the refcount chart


@dataclass(frozen=True)
class SampledEvent:
    """An Event-shaped record made from /sys/module/<m>/refcnt, for backends without events."""

    seq: int
    kind: str
    module: str
    detail: object


class ModuleModel:
    """State behind a ModulePanel. `target`: a Kernel, a Shell, or another shell backend."""

    def __init__(self, target=None, module: str = "hello"):
        self.backend = PanelBackend(target)
        self.path: Path | None = None
        self.name = ""
        self.specs: list[ParamSpec] = []
        self.values: dict[str, object] = {}
        self.last: CommandResult | None = None
        self.path_taken: tuple[str | None, ...] = ()
        self.views = Views()
        self._opened: list[int] = []  # fds this panel opened (backends that do not list them)
        self._sampled: list[SampledEvent] = []
        self._sampled_counts: dict[str, int | None] = {}
        events = self.backend.events()
        self._events_start = len(events) if events is not None else 0
        self._dmesg_start: int | None = None
        self._dmesg_before_last = 0
        self._log: list[str] = []  # backends without a simulated kernel: result.dmesg lines
        self.select(module)

    # ------------------------------------------------------------------ choosing
    def select(self, choice: str) -> None:
        """Pick a course module by name or any .ko by path (KcourseError if it is neither)."""
        path = resolve_choice(choice)
        ko = KoFile(path)
        modinfo = ko.modinfo
        self.path, self.name = path, ko.name
        self.specs = param_specs(modinfo)
        self.values = {}
        self.path_taken = ()
        _result, self.views = self.backend.execute(None, self.name)
        if self._dmesg_start is None:
            self._dmesg_start = self._dmesg_before_last = len(self.views.dmesg)
        self._sample()

    def set_param(self, name: str, value: object | None) -> None:
        """Give a parameter a value for the next insmod/modprobe (None: leave the default)."""
        if name not in {s.name for s in self.specs}:
            raise KcourseError(f"{self.name} has no parameter {name}")
        if value is None or value == "":
            self.values.pop(name, None)
        else:
            self.values[name] = value

    # ------------------------------------------------------------------ commands
    def device(self) -> str:
        devices = self.backend.devices(self.name)
        return devices[0] if devices else f"/dev/{self.name}"

    def _fds(self) -> dict[int, str]:
        fds = self.backend.open_fds()
        return fds if fds is not None else {fd: self.device() for fd in self._opened}

    def command(self, action: str) -> str:
        """The shell line a button runs."""
        params = command_args(self.specs, self.values)
        if action == "insmod":
            return " ".join(["insmod", self.backend.ko_arg(self.path), *params])
        if action in ("rmmod", "rmmod -f", "modprobe -r"):
            return f"{action} {self.name}"
        if action == "modprobe":
            return " ".join(["modprobe", self.name, *params])
        if action == "open":
            fds = self._fds()
            fd = next(n for n in range(3, 1024) if n not in fds)
            return f"exec {fd}<{shlex.quote(self.device())}"
        if action == "close":
            fds = self._fds()
            mine = [fd for fd, path in fds.items() if path in self.backend.devices(self.name)]
            fd = (mine or list(fds) or [3])[-1]
            return f"exec {fd}<&-"
        raise KcourseError(f"unknown action {action!r} (one of: {', '.join(ACTIONS)})")

    def do(self, action: str) -> CommandResult:
        """Run a button's line; the result (stderr included) is kept in `last`."""
        line = self.command(action)
        before_state = self.views.state
        events = self.backend.events()
        events_before = len(events) if events is not None else 0
        self._dmesg_before_last = len(self.views.dmesg) if self.backend.kernel else len(self._log)
        result, self.views = self.backend.execute(line, self.name)
        assert result is not None
        self.last = result
        self._log += result.dmesg
        self._note_fd(action, line, result)
        self._sample()
        self.path_taken = self._path_since(events_before, before_state)
        return result

    # ------------------------------------------------------------------ views
    def lsmod(self) -> str:
        return self.views.lsmod

    def state(self) -> str | None:
        return self.views.state

    def sysfs(self) -> list[tuple[str, str]]:
        """(entry, content) rows for /sys/module/<name>: files with their text, directories
        as `name/` with what they hold; parameters one row each with their value."""
        return self.views.sysfs

    def dmesg_new(self) -> list[str]:
        """The kernel log lines printed since the panel was made: `dmesg` lines of the
        simulated kernel, or (other backends, whose guest may boot anew for each command)
        the lines each of the panel's commands caused."""
        if self.backend.kernel is None:
            return list(self._log)
        lines = self.views.dmesg
        start = self._dmesg_start or 0
        return lines[start:] if len(lines) >= start else lines

    def dmesg_from_last(self) -> int:
        """How many of dmesg_new()'s lines came before the last command."""
        if self.backend.kernel is None:
            return self._dmesg_before_last
        return max(0, self._dmesg_before_last - (self._dmesg_start or 0))

    def refcount_events(self) -> list:
        """Events for kcourse.charts.refcount_series: the kernel's own list, or (for a
        backend without one) the refcount changes sampled after each command."""
        events = self.backend.events()
        return list(self._sampled) if events is None else events

    def charted_modules(self) -> list[str]:
        """The chosen module first, then the other modules the panel's commands touched."""
        names = [self.name]
        events = self.backend.events()
        recent = self._sampled if events is None else events[self._events_start:]
        for e in recent:
            if e.module and e.module not in names and e.kind in ("state", "get", "put"):
                names.append(e.module)
        return names[:MAX_CHARTED]

    def refcount_window(self) -> tuple[list[str], dict[str, list[float]]]:
        """(modules, series) for the refcount chart, from the panel's first event on (and the
        value just before it)."""
        from kcourse.charts import refcount_series

        modules = self.charted_modules()
        series = refcount_series(self.refcount_events(), modules)
        start = max(0, self._events_start - 1)
        return modules, {m: ys[start:] for m, ys in series.items()}

    # ------------------------------------------------------------------ helpers
    def _note_fd(self, action: str, line: str, result: CommandResult) -> None:
        if not result.ok or action not in ("open", "close"):
            return
        fd = int(line.split()[1].split("<")[0])
        if action == "open":
            self._opened.append(fd)
        elif fd in self._opened:
            self._opened.remove(fd)

    def _path_since(self, first_event: int, before: str | None) -> tuple[str | None, ...]:
        """The states the chosen module went through in the last command (kernel events),
        or its state before and after (other backends)."""
        events = self.backend.events()
        if events is None:
            after = self.views.state
            return (before, after) if before != after else ()
        path: list[str | None] = []
        for e in events[first_event:]:
            if e.kind == "state" and e.module == self.name:
                old, new = e.detail
                if not path:
                    path.append(old)
                path.append(new)
        return tuple(path)

    def _sample(self) -> None:
        """For backends without kernel events: record a change of the chosen module's refcnt
        as an event (get with the new count; state LIVE -> None when it goes)."""
        if self.backend.events() is not None:
            return
        module, new = self.name, self.views.refcount
        old = self._sampled_counts.get(module)
        if module in self._sampled_counts and new == old:
            return
        seq = len(self._sampled)
        if new is None and old is not None:
            self._sampled.append(SampledEvent(seq, "state", module, ("LIVE", None)))
        elif new is not None:
            self._sampled.append(SampledEvent(seq, "get", module, (new, "sampled")))
        self._sampled_counts[module] = new
