"""What a command sees while it runs: the machine, its working directory, and its streams.

TaskKilled (the process died in the kernel: an oops in module code, or a panicked machine) is
re-raised by every tool so that the shell can report it the way a terminal does ("Killed").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kcourse.kernel.kernel import TaskKilled  # noqa: F401 (re-exported for the tools)

if TYPE_CHECKING:
    from kcourse.shell.fs import SimFS
    from kcourse.shell.moddir import ModuleTree


@dataclass
class Ctx:
    """One command's view: `fs`, `kernel`, `tree`, the shell state, stdin and output buffers."""

    shell: object  # kcourse.shell.core.Shell (kept untyped to avoid an import cycle)
    stdin: str = ""
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)

    @property
    def fs(self) -> SimFS:
        return self.shell.fs  # type: ignore[attr-defined]

    @property
    def kernel(self):
        return self.shell.kernel  # type: ignore[attr-defined]

    @property
    def tree(self) -> ModuleTree:
        return self.shell.tree  # type: ignore[attr-defined]

    @property
    def cwd(self) -> str:
        return self.shell.cwd  # type: ignore[attr-defined]

    def path(self, name: str) -> str:
        """An argument as an absolute path of the simulated machine."""
        return self.fs.abspath(self.cwd, name)

    def out(self, text: str) -> None:
        self.stdout.append(text)

    def err(self, text: str) -> None:
        self.stderr.append(text)
