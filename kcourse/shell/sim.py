"""`kcourse sim [--transcript] [SCRIPT]`: run shell lines against a fresh simulated kernel.

Without --transcript each command's stdout and stderr go to ours, as `bash SCRIPT` would
print them. With --transcript every line is shown as `$ <line>`, then its output, then
`[rc=N]` (kcourse.backend.format_transcript). SCRIPT "-" or no SCRIPT reads stdin.
`--real` runs the script on Debian's own kernel booted under QEMU instead (kcourse.lab).

The exit status is the status of the last command that ran, as for `bash SCRIPT` (0 when
the script has no commands), in both modes. A line that cannot be parsed ends the script,
as a syntax error ends a bash script: one line `SCRIPT: line N: <what is wrong>` on stderr,
exit status 2.
"""

from __future__ import annotations

import sys

from kcourse.backend import format_transcript
from kcourse.errors import KcourseError

USAGE = "usage: kcourse sim [--real] [--transcript] [SCRIPT]"


def sim_main(argv: list[str]) -> int:
    if "--real" in argv:  # the same contract on Debian's kernel under QEMU (kcourse.lab)
        from kcourse.lab.cli import real_sim_main

        return real_sim_main(argv)
    transcript, files = False, []
    for arg in argv:
        if arg in ("-h", "--help"):
            print(USAGE)
            print(__doc__.split("\n\n", 1)[1].rstrip())
            return 0
        if arg == "--transcript":
            transcript = True
        elif arg.startswith("-") and arg != "-":
            raise KcourseError(f"unknown option '{arg}' ({USAGE})")
        else:
            files.append(arg)
    if len(files) > 1:
        raise KcourseError(f"one SCRIPT at most ({USAGE})")
    name = files[0] if files else "-"
    if name == "-":
        text, shown = sys.stdin.read(), "stdin"
    else:
        try:
            with open(name, encoding="utf-8", errors="surrogateescape") as handle:
                text = handle.read()
        except OSError as err:
            raise KcourseError(f"cannot read {name}: {err.strerror}") from None
        shown = name

    from kcourse.shell.core import Shell

    shell = Shell()
    results = shell.run_script(text)
    if shell.syntax_error and results:
        bad = results.pop()
        message = bad.stderr.strip().removeprefix("bash: ")
        if transcript:
            sys.stdout.write(format_transcript(results))
        else:
            _print_plain(results)
        sys.stdout.flush()
        print(f"{shown}: line {shell.syntax_error_line}: {message}", file=sys.stderr)
        return bad.rc
    if transcript:
        sys.stdout.write(format_transcript(results))
    else:
        _print_plain(results)
    return results[-1].rc if results else 0


def _print_plain(results) -> None:
    for result in results:
        sys.stdout.write(result.stdout)
        sys.stdout.flush()
        sys.stderr.write(result.stderr)
        sys.stderr.flush()
