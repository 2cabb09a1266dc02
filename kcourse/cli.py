"""The `kcourse` command. Each subcommand lives in its own module and is imported on use.

Every subcommand's entry point is `main(argv: list[str]) -> int`. A KcourseError (or
OSError) that escapes becomes one line on stderr and exit code 1: never a traceback.
"""

import importlib
import sys

from kcourse.errors import KcourseError

# name -> (module, function, one-line help)
SUBCOMMANDS = {
    "lab": ("kcourse.cli", "lab_main", "open the course in JupyterLab"),
    "modinfo": ("kcourse.elf.modinfo", "main", "show module information, like kmod's modinfo"),
    "objdump": ("kcourse.elf.objdump", "main", "show -f/-h/-t of a .ko, like binutils' objdump"),
    "sim": ("kcourse.shell", "sim_main", "run shell lines against a simulated kernel"),
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
    """Open JupyterLab on the course's notebooks/ folder."""
    from kcourse.paths import notebooks_dir

    folder = notebooks_dir()
    if not folder.is_dir():
        raise KcourseError(f"notebooks folder not found: {folder}")
    from jupyterlab.labapp import main as jupyterlab_main

    sys.argv = ["jupyter-lab", f"--notebook-dir={folder}", *argv]
    return jupyterlab_main() or 0


def check_main(argv: list[str]) -> int:
    from kcourse.setup_check import report

    print(report())
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in SUBCOMMANDS:
        print(f"kcourse: unknown command '{name}'\n{usage()}", file=sys.stderr)
        return 2
    module_name, func_name, _ = SUBCOMMANDS[name]
    try:
        func = getattr(importlib.import_module(module_name), func_name)
        return func(rest)
    except KcourseError as err:
        print(f"kcourse {name}: {err}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
