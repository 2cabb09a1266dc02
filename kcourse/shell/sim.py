"""`kcourse sim [--debian] [--transcript] [SCRIPT]`: shell lines on a fresh simulated kernel.

Without --transcript each command's stdout and stderr go to ours, as `bash SCRIPT` would
print them. With --transcript every line is shown as `$ <line>`, then its output, then
`[rc=N]` (kcourse.backend.format_transcript). SCRIPT "-" or no SCRIPT reads stdin.
The shell starts in the caller's folder (so `insmod hello.ko` finds ./hello.ko); the course
modules stay at /root/modules.
`--real` runs the script on Debian's own kernel booted under QEMU instead (kcourse.lab).
`--debian` puts Debian's whole module tree (kernel/...) next to the course modules in the
simulated /lib/modules, from the cache only (`kcourse lab-prepare --modules-only` fetches it
once), so `modprobe 8021q` finds Debian's module and its dependencies.

A script bash would refuse as binary (an ELF file, a NUL byte in its first line) is refused
the same way: `SCRIPT: SCRIPT: cannot execute binary file`, status 126. Other NUL bytes are
dropped and bytes that are not UTF-8 are kept, as bash reads a script.

The exit status is the status of the last command that ran, as for `bash SCRIPT` (0 when
the script has no commands), in both modes. A line that cannot be parsed ends the script,
as a syntax error ends a bash script: one line `SCRIPT: line N: <what is wrong>` on stderr,
exit status 2.
"""

from __future__ import annotations

import os
import posixpath
import stat
import sys

from kcourse.backend import format_transcript
from kcourse.errors import KcourseError
from kcourse.shell.parser import SYNTAX_RC

# --debian is described in the help text below the usage line; the line itself stays as
# tests/test_bad_input.py (another helper's, being edited) expects it for now.
USAGE = "usage: kcourse sim [--real] [--transcript] [SCRIPT]"


def _working_folder() -> str | None:
    """The caller's folder as the shell sees it ($PWD when it names the same folder, as bash
    keeps the logical path; else the physical one)."""
    try:
        physical = os.getcwd()
    except OSError:  # the folder was removed under us
        return None
    logical = os.environ.get("PWD", "")
    if logical.startswith("/") and os.path.realpath(logical) == physical:
        return posixpath.normpath(logical)
    return physical


def sim_main(argv: list[str]) -> int:
    if "--real" in argv and "--debian" in argv:
        raise KcourseError("--real and --debian do not go together: the real kernel's guest "
                           "holds the lab's Debian modules already")
    if "--real" in argv:  # the same contract on Debian's kernel under QEMU (kcourse.lab)
        script = next((a for a in argv if not a.startswith("-")), None)
        if script is not None and _binary_file(script):
            # refused before a guest boots, as bash would refuse it there
            print(f"{script}: {script}: cannot execute binary file", file=sys.stderr)
            return 126
        from kcourse.lab.cli import real_sim_main

        return real_sim_main(argv)
    parsed = parse_args(argv, USAGE, ("--transcript", "--debian"))
    if parsed is None:
        print(USAGE)
        print(__doc__.split("\n\n", 1)[1].rstrip())
        return 0
    given, name = parsed
    transcript, debian = "--transcript" in given, "--debian" in given
    from kcourse.shell.core import Shell

    # Before the script is read: a missing Debian tree is one line (DebianTreeMissing names
    # the command that fetches it), with nothing run.
    # The shell starts in the caller's folder, so `insmod hello.ko` finds ./hello.ko.
    shell = Shell(debian_tree=debian, workdir=_working_folder())
    if name == "-":
        stream = getattr(sys.stdin, "buffer", None)
        raw = stream.read() if stream is not None else sys.stdin.read().encode(
            "utf-8", "surrogateescape")
        shown = "stdin"
    else:
        try:
            with open(name, "rb") as handle:
                raw = handle.read()
        except OSError as err:
            raise KcourseError(f"cannot read {name}: {err.strerror}") from None
        except ValueError:
            raise KcourseError(f"cannot read {name!r}: the name holds a NUL byte") from None
        shown = name
    if is_binary(raw):
        # bash's check_binary_file (shell.c open_shell_script): "<s>: <s>: cannot execute
        # binary file", status 126 (EX_BINARY_FILE)
        where = f"{shown}: {shown}" if name != "-" else shown  # bash names the file twice
        print(f"{where}: cannot execute binary file", file=sys.stderr)
        return 126
    # bash reads the script as bytes and drops NULs (input.c); other bytes pass through
    text = raw.replace(b"\0", b"").decode("utf-8", "surrogateescape")

    results = shell.run_script(text)
    if shell.syntax_error and results:
        bad = results.pop()
        message = bad.stderr.strip().removeprefix("bash: ")
        if transcript:
            _write(sys.stdout, format_transcript(results))
        else:
            _print_plain(results)
        _write(sys.stderr, f"{shown}: line {shell.syntax_error_line}: {message}\n")
        return SYNTAX_RC  # bash ends a script at a syntax error with status 2
    if transcript:
        _write(sys.stdout, format_transcript(results))
    else:
        _print_plain(results)
    return results[-1].rc if results else 0


def parse_args(argv: list[str], usage: str, flags: tuple[str, ...]
               ) -> tuple[set[str], str] | None:
    """The `kcourse sim` command line (shared with `sim --real`, kcourse.lab.cli): (flags
    given, SCRIPT or "-"), or None when -h/--help asks for the usage."""
    given, files = set(), []
    for arg in argv:
        if arg in ("-h", "--help"):
            return None
        if arg in flags:
            given.add(arg)
        elif arg.startswith("-") and arg != "-":
            raise KcourseError(f"unknown option '{arg}' ({usage})")
        else:
            files.append(arg)
    if len(files) > 1:
        raise KcourseError(f"one SCRIPT at most ({usage})")
    return given, files[0] if files else "-"


def _binary_file(name: str) -> bool:
    """Whether a script file is one bash would refuse as binary (False if unreadable: the
    reader says why)."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO must not block us here
    except (OSError, ValueError):
        return False
    try:
        return stat.S_ISREG(os.fstat(fd).st_mode) and is_binary(os.read(fd, 80))
    except OSError:
        return False
    finally:
        os.close(fd)


def is_binary(sample: bytes) -> bool:
    """bash 5.2 general.c check_binary_file on the first 80 bytes: an ELF header, or a NUL
    in the first line (the first two lines when the script starts with #!)."""
    sample = sample[:80]
    if sample.startswith(b"\x7fELF"):
        return True
    lines = 2 if sample.startswith(b"#!") else 1
    for byte in sample:
        if byte == 0x0A:
            lines -= 1
            if lines == 0:
                return False
        if byte == 0:
            return True
    return False


def _write(stream, text: str) -> None:
    """Text back to bytes as it came (surrogateescape), so a byte that is not UTF-8 is shown
    as the byte a real shell would print, not as a Python escape."""
    buffer = getattr(stream, "buffer", None)
    if buffer is not None:
        stream.flush()
        buffer.write(text.encode("utf-8", "surrogateescape"))
        buffer.flush()
    else:
        stream.write(text)
    stream.flush()


def _print_plain(results) -> None:
    for result in results:
        _write(sys.stdout, result.stdout)
        _write(sys.stderr, result.stderr)
