"""What every shell backend returns: the simulator's kshell and the real-kernel lab alike.

Keeping one result type lets a test or a notebook put the two side by side line by line.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CommandResult:
    """One shell line and what it did: output, exit status, and the kernel log lines it caused."""

    line: str
    stdout: str = ""
    stderr: str = ""
    rc: int = 0
    dmesg: tuple[str, ...] = field(default_factory=tuple)  # message text only, no timestamps

    @property
    def ok(self) -> bool:
        return self.rc == 0


def format_transcript(results: list[CommandResult]) -> str:
    """`kcourse sim --transcript`: `$ <line>`, its stdout, its stderr, then `[rc=N]`, per line."""
    out = []
    for result in results:
        out.append(f"$ {result.line}\n")
        out.append(result.stdout)
        out.append(result.stderr)
        out.append(f"[rc={result.rc}]\n")
    return "".join(out)
