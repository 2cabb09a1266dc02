"""The module panel's model: which module, which parameters, what each button runs, and
what the views show afterwards. No widgets here; ModulePanel only draws this.

Every button is a shell line run through the backend's shell, so what the learner sees is
kmod's and bash's own text (`insmod hello/hello.ko count=3`, `rmmod -f hello`,
`exec 3</dev/kcdev`, `exec 3<&-`). A refused line changes nothing in the kernel; the
model's own view of it (dmesg, refcount history) is rebuilt from the kernel, so it does not
change either.
"""

from __future__ import annotations

import math
import shlex
from dataclasses import dataclass
from pathlib import Path

from kcourse.backend import CommandResult
from kcourse.elf.kofile import KoFile
from kcourse.errors import KcourseError
from kcourse.ui.backend import PanelBackend
from kcourse.ui.choices import resolve_choice
from kcourse.ui.params import ParamSpec, command_args, param_specs

ACTIONS = ("insmod", "rmmod", "rmmod -f", "modprobe", "modprobe -r", "open", "close")
MAX_CHARTED = 6  # modules drawn on the refcount chart
SYSFS_FILES_SKIPPED = ("uevent",)  # write-only (mode 0200): kernel/module/sysfs.c


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
        self._dmesg_start = len(self.backend.dmesg())
        self._dmesg_before_last = self._dmesg_start
        events = self.backend.events()
        self._events_start = len(events) if events is not None else 0
        self._sampled: list[SampledEvent] = []
        self._sampled_counts: dict[str, int | None] = {}
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
        self._track(self.name)

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
            fds = self.backend.open_fds()
            fd = next(n for n in range(3, 1024) if n not in fds)
            return f"exec {fd}<{shlex.quote(self.device())}"
        if action == "close":
            fds = self.backend.open_fds()
            mine = [fd for fd, path in fds.items() if path in self.backend.devices(self.name)]
            fd = (mine or list(fds) or [3])[-1]
            return f"exec {fd}<&-"
        raise KcourseError(f"unknown action {action!r} (one of: {', '.join(ACTIONS)})")

    def do(self, action: str) -> CommandResult:
        """Run a button's line; the result (stderr included) is kept in `last`."""
        line = self.command(action)
        before_state = self.state()
        events = self.backend.events()
        events_before = len(events) if events is not None else 0
        self._dmesg_before_last = len(self.backend.dmesg())
        self.last = self.backend.run(line)
        self._sample()
        self.path_taken = self._path_since(events_before, before_state)
        return self.last

    # ------------------------------------------------------------------ views
    def lsmod(self) -> str:
        return self.backend.run("lsmod").stdout

    def state(self) -> str | None:
        return self.backend.state(self.name)

    def sysfs(self) -> list[tuple[str, str]]:
        """(entry, content) rows for /sys/module/<name>: files with their text, directories
        as `name/` with what they hold; parameters one row each with their value."""
        base = f"/sys/module/{self.name}"
        entries = self.backend.listdir(base)
        if entries is None:
            return []
        rows = []
        for entry, is_dir in entries:
            path = f"{base}/{entry}"
            if not is_dir:
                if entry in SYSFS_FILES_SKIPPED:
                    continue
                text = self.backend.read(path)
                rows.append((entry, text.strip() if text is not None else "(not readable)"))
                continue
            inner = self.backend.listdir(path) or []
            if entry == "parameters":
                for param, _sub in inner:
                    text = self.backend.read(f"{path}/{param}")
                    shown = text.strip() if text is not None else "(not readable)"
                    rows.append((f"parameters/{param}", shown))
            elif entry in ("sections", "notes"):
                rows.append((f"{entry}/", f"{len(inner)} entries"))
            else:
                rows.append((f"{entry}/", " ".join(n for n, _d in inner)))
        return rows

    def dmesg_new(self) -> list[str]:
        """The kernel log lines printed since the panel was made."""
        lines = self.backend.dmesg()
        start = self._dmesg_start if len(lines) >= self._dmesg_start else 0
        return lines[start:]

    def dmesg_from_last(self) -> int:
        """How many of dmesg_new()'s lines came before the last command."""
        return max(0, self._dmesg_before_last - self._dmesg_start)

    def refcount_events(self) -> list:
        """Events for kcourse.charts.refcount_series: the kernel's own list from when the panel
        was made, or (for a backend without one) changes sampled after each command."""
        events = self.backend.events()
        if events is None:
            return list(self._sampled)
        return events

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
        """(modules, series) for the refcount chart, from the panel's first event on."""
        from kcourse.charts import refcount_series

        modules = self.charted_modules()
        events = self.refcount_events()
        series = refcount_series(events, modules)
        start = self._events_start if self.backend.events() is not None else 0
        window = {m: ys[max(0, start - 1):] if start else ys for m, ys in series.items()}
        return modules, window

    # ------------------------------------------------------------------ helpers
    def _path_since(self, first_event: int, before: str | None) -> tuple[str | None, ...]:
        """The states the chosen module went through in the last command (kernel events),
        or its state before and after (other backends)."""
        events = self.backend.events()
        if events is None:
            after = self.state()
            return (before, after) if before != after else ()
        path: list[str | None] = []
        for e in events[first_event:]:
            if e.kind == "state" and e.module == self.name:
                old, new = e.detail
                if not path:
                    path.append(old)
                path.append(new)
        return tuple(path)

    def _track(self, module: str) -> None:
        if module not in self._sampled_counts:
            self._sampled_counts[module] = None
            if self.backend.events() is None:
                self._sample()

    def _sample(self) -> None:
        """For backends without kernel events: read each tracked module's refcnt and record a
        change as an event (state None<->LIVE when it appears or goes, get with the count)."""
        if self.backend.events() is not None:
            return
        for module, old in list(self._sampled_counts.items()):
            new = self.backend.refcount(module)
            if new == old:
                continue
            seq = len(self._sampled)
            if old is None:
                self._sampled.append(SampledEvent(seq, "state", module, (None, "LIVE")))
                self._sampled.append(SampledEvent(seq + 1, "get", module, (new, "sampled")))
            elif new is None:
                self._sampled.append(SampledEvent(seq, "state", module, ("LIVE", None)))
            else:
                self._sampled.append(SampledEvent(seq, "get", module, (new, "sampled")))
            self._sampled_counts[module] = new


def is_gap(value: float) -> bool:
    return isinstance(value, float) and math.isnan(value)
