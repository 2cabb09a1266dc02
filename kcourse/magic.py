"""`%%kshell`: a root terminal on the simulated machine, inside a notebook cell.

    %load_ext kcourse.magic        (or %load_ext kcourse, once kcourse/__init__.py forwards it)

    %%kshell
    insmod hello/hello.ko
    lsmod

Every cell of a notebook talks to the same simulated kernel (created on first use), so what
one cell loads, the next one sees. `%%kshell --new` starts a fresh kernel (a reboot) and keeps
it for the following cells. `%%kshell --real` runs the cell on Debian's real kernel under QEMU
(kcourse.lab.session.RealShell: one guest per notebook too, kept by replaying the earlier
--real cells; --real --new forgets them).

Each command is printed after a `# ` prompt (root's prompt), then its output as a terminal
shows it, stdout before stderr, all on the cell's stdout so the order never changes. `-q`
leaves the prompts out. A line the shell cannot parse stops the cell, as it stops a bash
script.

From Python, `notebook_shell()` returns the Shell (`.kernel` is the simulated kernel).
"""

from __future__ import annotations

import os
import shlex
import sys

from kcourse.errors import KcourseError

_SHELL = None
_REAL = None


def notebook_shell(new: bool = False):
    """The notebook's shell: one simulated kernel per notebook unless `new` asks for another."""
    global _SHELL
    if new or _SHELL is None:
        from kcourse.shell import Shell

        _SHELL = Shell()
    return _SHELL


def notebook_real_shell(new: bool = False):
    """The notebook's real-kernel shell (kcourse.lab), created on first use."""
    global _REAL
    if _REAL is None:
        from kcourse.lab.session import RealShell

        _REAL = RealShell()
    elif new:
        _REAL.reset()
    return _REAL


def render(results, prompts: bool = True) -> str:
    """The terminal text for a list of CommandResult."""
    out = []
    for result in results:
        if prompts:
            out.append(f"# {result.line}\n")
        out.append(result.stdout)
        out.append(result.stderr)
    return "".join(out)


def kshell(line: str, cell: str) -> None:
    """%%kshell [--new] [--real] [-q]: run the cell's lines in the notebook's machine.

    A mistake in the magic's own options is one line on stderr and runs nothing; what the
    commands print is the terminal's text, on stdout."""
    try:
        options = shlex.split(line)
    except ValueError as err:
        print(f"%%kshell: {err} (options: --new, --real, -q)", file=sys.stderr)
        return
    unknown = [o for o in options if o not in ("--new", "--real", "-q", "--quiet")]
    if unknown:
        print(f"%%kshell: unknown option {unknown[0]} (use --new, --real, -q)", file=sys.stderr)
        return
    try:
        if "--real" in options:
            shell = notebook_real_shell(new="--new" in options)
        else:
            shell = notebook_shell(new="--new" in options)
        results = shell.run_script(cell)
    except KcourseError as err:  # the lab cannot boot, a guest died, ...
        print(f"%%kshell: {' '.join(str(err).split())}", file=sys.stderr)
        return
    except Exception as err:  # a bug: still one line in the notebook (KCOURSE_DEBUG: raise)
        if os.environ.get("KCOURSE_DEBUG"):
            raise
        text = " ".join(str(err).split())[:200]
        print(f"%%kshell: internal error: {type(err).__name__}: {text} (please report it)",
              file=sys.stderr)
        return
    print(render(results, prompts=not ({"-q", "--quiet"} & set(options))), end="")


def load_ipython_extension(ipython) -> None:
    """`%load_ext kcourse.magic` registers %%kshell."""
    ipython.register_magic_function(kshell, magic_kind="cell", magic_name="kshell")
