"""A real-kernel shell that keeps its state across calls, for `%%kshell --real` and panels.

The guest lives only as long as one script (a boot per script keeps every run independent
and a crash harmless). To give notebook cells the feel of one machine, RealShell remembers
the lines it ran and, for each new cell, boots once and replays them before the new ones,
returning only the new results. The course's modules are deterministic, so the replayed
lines put the kernel back in the same state (addresses and timestamps aside, which is all
the simulator comparison masks anyway). `reset()` forgets the history: a reboot.

    shell = RealShell()
    shell.run_script("insmod hello/hello.ko")     # -> [CommandResult]
    shell.run_script("lsmod")                     # boots, replays insmod, runs lsmod

Same method as kcourse.shell.Shell.run_script(text) -> list[CommandResult].
"""

from __future__ import annotations

from pathlib import Path

from kcourse.backend import CommandResult
from kcourse.lab.runner import RealKernel, script_lines


class RealShell:
    """Shell-like front of RealKernel: run_script(text) with state kept by replay."""

    def __init__(self, kernel: RealKernel | None = None):
        self.kernel = kernel or RealKernel()
        self.history: list[str] = []
        self.files: dict[str, Path] = {}

    def reset(self) -> None:
        self.history = []
        self.files = {}

    def run_script(self, text: str | list[str],
                   files: dict[str, Path] | None = None) -> list[CommandResult]:
        lines = script_lines(text) if isinstance(text, str) else list(text)
        self.files.update(files or {})
        results = self.kernel.run_script(self.history + lines, self.files)
        self.history += lines
        return results[len(self.history) - len(lines):]

    def run(self, line: str) -> CommandResult:
        return self.run_script([line])[0]
