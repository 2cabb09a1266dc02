"""The `kcourse` command. Each subcommand lives in its own module and is imported on use.

Every subcommand's entry point is `main(argv: list[str]) -> int`. A KcourseError (or
OSError) that escapes becomes one line on stderr and exit code 1: never a traceback. A reader
that goes away (SIGPIPE) ends the command quietly with 141; anything else that escapes is a
bug, still shown as one line (exit 70) unless KCOURSE_DEBUG is set.
"""

import difflib
import importlib
import os
import sys
from pathlib import Path

from kcourse.errors import KcourseError

# name -> (module, function, one-line help)
SUBCOMMANDS = {
    "lab": ("kcourse.cli", "lab_main", "open the course in JupyterLab"),
    "modinfo": ("kcourse.elf.modinfo", "main", "show module information, like kmod's modinfo"),
    "objdump": ("kcourse.elf.objdump", "main", "show -f/-h/-t of a .ko, like binutils' objdump"),
    "sim": ("kcourse.shell", "sim_main", "run shell lines against a simulated kernel"),
    "build": ("kcourse.build.build_cli", "main",
              "build the module(s) in a folder with the real kbuild, for the course kernel"),
    "depmod": ("kcourse.build.depmod", "main", "write modules.dep/.alias/.symbols for a tree"),
    "bzimage": ("kcourse.build.bzimage", "main", "describe an x86 bzImage"),
    "lab-prepare": ("kcourse.lab.cli", "prepare_main",
                    "fetch and build the real-kernel lab (QEMU) now, step by step"),
    "check": ("kcourse.cli", "check_main", "say what works on this machine and what to install"),
    "student-copies": ("kcourse.instructor", "student_copies_main",
                       "write student copies of the lessons (solutions removed)"),
    "grade": ("kcourse.instructor", "grade_main", "run a filled-in lesson, score each exercise"),
}


def usage() -> str:
    lines = ["usage: kcourse COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<9} {text}" for name, (_, _, text) in SUBCOMMANDS.items()]
    return "\n".join(lines)


def lab_main(argv: list[str]) -> int:
    """kcourse lab [--work DIR] [JUPYTER-ARGS...]: open JupyterLab on the learner's own copy
    of the lessons (kcourse.workcopy), made or brought up to date first."""
    from kcourse import workcopy

    argv = list(argv)
    folder = None
    if argv and argv[0] in ("-h", "--help"):
        print("usage: kcourse lab [--work DIR] [JupyterLab options]\n"
              "Opens your own copy of the lessons (default "
              f"{workcopy.default_folder()}); the answer cells are blank.")
        return 0
    if "--work" in argv:
        at = argv.index("--work")
        if at + 1 >= len(argv) or argv[at + 1].startswith("-"):
            raise KcourseError("--work needs a folder (kcourse lab --work DIR)")
        folder = Path(argv[at + 1]).expanduser()
        del argv[at:at + 2]
    folder = folder or workcopy.default_folder()
    print(workcopy.describe(folder, workcopy.prepare(folder)))
    return _launch(folder, argv)


def _launch(folder, argv: list[str]) -> int:
    from jupyterlab.labapp import main as jupyterlab_main

    sys.argv = lab_argv(folder, argv)
    return jupyterlab_main() or 0


def lab_argv(folder, argv: list[str], euid: int | None = None) -> list[str]:
    """jupyter-lab's command line. Jupyter Server refuses to start as root unless told to
    (`Running as root is not recommended`); containers, Binder-like images and CI machines
    often run as root, and the course never needs privileges, so say so for the learner."""
    import os

    euid = os.geteuid() if euid is None else euid
    extra = ["--allow-root"] if euid == 0 and "--allow-root" not in argv else []
    return ["jupyter-lab", f"--notebook-dir={folder}", *extra, *argv]


def check_main(argv: list[str]) -> int:
    if argv and argv[0] in ("-h", "--help"):
        print("usage: kcourse check")
        return 0
    if argv:
        raise KcourseError(f"takes no arguments, got '{argv[0]}' (usage: kcourse check)")
    from kcourse.setup_check import report

    print(report())
    return 0


def unknown_command(name: str) -> str:
    """One line for a mistyped command, naming the closest one (difflib, like git's hint)."""
    close = difflib.get_close_matches(name, SUBCOMMANDS, n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return f"kcourse: unknown command '{name}' ({hint}`kcourse --help` lists them)"


def _quiet_stdout() -> None:
    """After EPIPE: point stdout at /dev/null so the interpreter's final flush is silent."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    if argv[0] == "--version":
        from kcourse import __version__

        print(f"kcourse {__version__}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in SUBCOMMANDS:
        print(unknown_command(name), file=sys.stderr)
        return 2
    module_name, func_name, _ = SUBCOMMANDS[name]
    try:
        func = getattr(importlib.import_module(module_name), func_name)
        return func(rest)
    except KcourseError as err:
        print(f"kcourse {name}: {err}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # the reader went away (`kcourse modinfo ... | head -1`): say nothing, and exit with
        # the status a shell shows for a process killed by SIGPIPE (128 + 13)
        _quiet_stdout()
        return 141
    except KeyboardInterrupt:
        return 130
    except OSError as err:  # a file that vanished, a full disk: one line, as the tools say it
        where = f": {err.filename}" if err.filename is not None else ""
        print(f"kcourse {name}: {err.strerror or err}{where}", file=sys.stderr)
        return 1
    except Exception as err:  # the last net: a bug must still be one line, not a traceback
        if os.environ.get("KCOURSE_DEBUG"):
            raise
        text = " ".join(str(err).split())[:200]
        print(f"kcourse {name}: internal error: {type(err).__name__}: {text} "
              "(KCOURSE_DEBUG=1 shows the traceback; please report it)", file=sys.stderr)
        return 70  # EX_SOFTWARE (sysexits.h)


if __name__ == "__main__":
    sys.exit(main())
