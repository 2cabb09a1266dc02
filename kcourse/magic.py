"""`%%kshell`: a root terminal on the simulated machine, inside a notebook cell.

    %load_ext kcourse.magic        (or %load_ext kcourse, once kcourse/__init__.py forwards it)

    %%kshell
    insmod hello/hello.ko
    lsmod

Every cell of a notebook talks to the same simulated kernel (created on first use), so what
one cell loads, the next one sees. `%%kshell --new` starts a fresh kernel (a reboot) and keeps
it for the following cells. `%%kshell --real` runs the cell on Debian's real kernel under QEMU
(kcourse.lab.session.RealShell: one guest per notebook too, booted on first use and kept up;
--real --new reboots it). A guest that crashes or hangs is reported in one line after the
lines that finished; the next --real cell boots a fresh one and says so.

Each command is printed after a `# ` prompt (root's prompt), then its output as a terminal
shows it, stdout before stderr, all on the cell's stdout so the order never changes. `-q`
leaves the prompts out. A line the shell cannot parse stops the cell, as it stops a bash
script.

From Python, `notebook_shell()` returns the Shell (`.kernel` is the simulated kernel).

`%%kmodule NAME [--kbuild LINE]...` builds the cell's C with the real kbuild for the course
kernel (kcourse.build.cell) into kmodules/NAME/ and puts it at /root/modules/NAME/ of the
notebook's shell: the next `%%kshell` cell can `insmod NAME/NAME.ko`. `--file PART.c` makes the
cell one file of a module built from several: it is written as PART.c next to the folder's
other files, and the --kbuild lines are then the whole Kbuild (obj-m := NAME.o, NAME-y := ...).
Without gcc or kernel headers the cell says what is missing, and the lesson goes on with the
committed modules.
"""

from __future__ import annotations

import os
import shlex
import sys

from kcourse.errors import KcourseError

_SHELL = None
_REAL = None
_BUILT: dict = {}  # %%kmodule NAME -> its folder; every notebook shell (also after --new) sees them


def notebook_shell(new: bool = False):
    """The notebook's shell: one simulated kernel per notebook unless `new` asks for another."""
    global _SHELL
    if new or _SHELL is None:
        from kcourse.shell import Shell

        _SHELL = Shell()
        _SHELL.fs.learner_modules = _BUILT
    return _SHELL


def notebook_real_shell(new: bool = False, lab=None):
    """The notebook's real-kernel shell (kcourse.lab.session.RealShell: one live guest),
    created on first use (on `lab`, a prepared kcourse.lab.Lab, when given); `new` reboots."""
    global _REAL
    if _REAL is None:
        from kcourse.lab.runner import RealKernel
        from kcourse.lab.session import RealShell

        _REAL = RealShell(RealKernel(lab=lab))
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
    quiet = bool({"-q", "--quiet"} & set(options))
    shell = None
    try:
        if "--real" in options:
            shell = notebook_real_shell(new="--new" in options)
        else:
            shell = notebook_shell(new="--new" in options)
        results = shell.run_script(cell)
    except KcourseError as err:  # the lab cannot boot, a guest died, ...
        _say_notice(shell)
        print(render(getattr(err, "results", []), prompts=not quiet), end="")
        print(f"%%kshell: {' '.join(str(err).split())}", file=sys.stderr)
        return
    except Exception as err:  # a bug: still one line in the notebook (KCOURSE_DEBUG: raise)
        if os.environ.get("KCOURSE_DEBUG"):
            raise
        text = " ".join(str(err).split())[:200]
        print(f"%%kshell: internal error: {type(err).__name__}: {text} (please report it)",
              file=sys.stderr)
        return
    _say_notice(shell)
    print(render(results, prompts=not quiet), end="")


def _say_notice(shell) -> None:
    """The real shell's one-off notice (a fresh guest replaced one that failed), on stderr."""
    take = getattr(shell, "take_notice", None)
    said = take() if take is not None else None
    if said:
        print(f"%%kshell: {said}", file=sys.stderr)


KMODULE_USAGE = "usage: %%kmodule NAME [--file PART.c] [--kbuild 'LINE']..."


def kmodule(line: str, cell: str) -> None:
    """%%kmodule NAME [--kbuild LINE]...: build the cell as NAME.c; kbuild's output is shown,
    compiler positions are the cell's own lines."""
    from kcourse.build.cell import build_cell

    try:
        words = shlex.split(line)
    except ValueError as err:
        print(f"%%kmodule: {err} ({KMODULE_USAGE})", file=sys.stderr)
        return
    kbuild, names, file = [], [], None
    while words:
        word = words.pop(0)
        if word == "--kbuild" and words:
            kbuild.append(words.pop(0))
        elif word == "--file" and words:
            file = words.pop(0)
        elif word.startswith("-"):
            print(f"%%kmodule: unknown option {word} ({KMODULE_USAGE})", file=sys.stderr)
            return
        else:
            names.append(word)
    if len(names) != 1:
        print(f"%%kmodule: name one module ({KMODULE_USAGE})", file=sys.stderr)
        return
    try:
        built = build_cell(names[0], cell, kbuild, file=file)
    except KcourseError as err:
        print(f"%%kmodule: {err}", file=sys.stderr)
        return
    if built.problem:
        print(f"%%kmodule: {built.name}.ko not built: {built.problem}; the lesson's other "
              "cells use the committed modules", file=sys.stderr)
        return
    print(built.output, end="")
    if not built.ok:
        print(f"%%kmodule: {built.name}.ko not built (kbuild's messages above; line numbers "
              "are the cell's)", file=sys.stderr)
        return
    if not built.ko.is_file():  # e.g. Kbuild lines without obj-m: kbuild had nothing to link
        print(f"%%kmodule: kbuild made no {built.name}.ko (obj-m := {built.name}.o names a "
              "module to build)", file=sys.stderr)
        return
    _BUILT[built.name] = built.folder.resolve()
    notebook_shell()
    print(f"built {built.name}/{built.name}.ko: in %%kshell, insmod {built.name}/{built.name}.ko")


def load_ipython_extension(ipython) -> None:
    """`%load_ext kcourse.magic` registers %%kshell and %%kmodule."""
    ipython.register_magic_function(kshell, magic_kind="cell", magic_name="kshell")
    ipython.register_magic_function(kmodule, magic_kind="cell", magic_name="kmodule")
