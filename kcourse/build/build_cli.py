"""`kcourse build [DIR]`: build the module(s) in DIR with the real kbuild, for the course kernel.

DIR holds a Kbuild (or a Makefile with `obj-m`) and the C sources; the .ko and kbuild's
generated files are left there, as `make -C /lib/modules/<release>/build M=$PWD modules`
leaves them. The kernel is always the pinned one (kcourse.pin), never `uname -r`: the host's
own kernel may be anything. Headers come from /usr/src when installed, else from Debian's
packages fetched into the cache (kcourse.build.headers; no root). kbuild's own output is
shown as make printed it.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from kcourse.errors import KcourseError

USAGE = "usage: kcourse build [DIR]"
# The compiler Debian's headers name (.kernelvariables: CC = gcc-12) and the build driver.
TOOLS = (("make", "make"), ("gcc-12", "gcc-12"))


def missing_tool() -> str | None:
    """One line naming the Debian package to install, or None when all are there."""
    for command, package in TOOLS:
        if shutil.which(command) is None:
            return f"{command} is not installed (apt-get install {package})"
    return None


def main(argv: list[str]) -> int:
    if argv in (["-h"], ["--help"]):
        print(USAGE)
        return 0
    if len(argv) > 1 or (argv and argv[0].startswith("-")):
        raise KcourseError(f"{USAGE} (got {' '.join(argv)})")
    folder = Path(argv[0] if argv else ".")
    if not folder.is_dir():
        raise KcourseError(f"{folder}: no such folder")
    if not ((folder / "Kbuild").is_file() or (folder / "Makefile").is_file()):
        raise KcourseError(f"{folder} has no Kbuild or Makefile (one line `obj-m := NAME.o` "
                           "is enough)")
    problem = missing_tool()
    if problem:
        raise KcourseError(problem)

    from kcourse import pin
    from kcourse.build import headers
    from kcourse.build.kbuild import KbuildError, build_module

    def progress(step: str) -> None:
        print(f"kcourse build: {step}", file=sys.stderr, flush=True)

    tree = headers.build_tree(pin.release(), progress)
    try:
        result = build_module(folder, kdir=tree, out_dir=folder)
    except KbuildError as err:
        sys.stdout.write(err.result.output)
        print(f"kcourse build: {err}", file=sys.stderr)
        return 1
    sys.stdout.write(result.output)
    for ko in result.modules:
        print(f"kcourse build: {ko} built for {pin.release()}", file=sys.stderr)
    return 0
