"""A module written in a notebook cell (`%%kmodule NAME`), built with the real kbuild.

The cell's text is the C file, written as is, so gcc's `NAME.c:LINE:COL:` positions are the
cell's own line numbers. The folder is `kmodules/NAME/` under the notebook's working folder,
laid out as data/modules/NAME/ (NAME.c, Kbuild, then what kbuild generates). The notebook's
shell then sees it as /root/modules/NAME/, next to the course modules, so the next `%%kshell`
cell loads it with `insmod NAME/NAME.ko`, as the lessons load hello/hello.ko.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from kcourse.errors import KcourseError

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,55}$")  # a C identifier: KBUILD_MODNAME
SOURCE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,60}\.c$")  # one file in the module's folder
CELL_FOLDER = "kmodules"


@dataclass
class CellBuild:
    name: str
    folder: Path
    ok: bool
    output: str            # kbuild's output, the folder's path shortened to NAME/
    problem: str = ""      # why nothing was built (no compiler, no headers), one line

    @property
    def ko(self) -> Path:
        return self.folder / f"{self.name}.ko"


def write_sources(name: str, source: str, kbuild_lines: list[str], base: Path,
                  file: str | None = None) -> Path:
    """NAME.c and a Kbuild of `obj-m := NAME.o` and the lines. With `file`, the cell is that one
    file of a module made of several (the others already in the folder are kept) and the lines
    are the whole Kbuild: they must say how NAME.ko is made (obj-m, NAME-y)."""
    if file is not None and not SOURCE.match(file):
        raise KcourseError(f"'{file}' is not a C file name for the module's folder (e.g. main.c)")
    if not NAME.match(name):
        raise KcourseError(f"'{name}' is not a module name: letters, digits and _ (a C "
                           "identifier, since kbuild makes KBUILD_MODNAME of it)")
    folder = base / CELL_FOLDER / name
    folder.mkdir(parents=True, exist_ok=True)
    # A clean build every time: a failed build must not leave the previous .ko to be loaded,
    # and kbuild's output (what the cell shows) must not depend on an earlier run's files.
    for pattern in (f"{name}.ko", "*.o", "*.mod", "*.mod.c", ".*.cmd", "Module.symvers",
                    "modules.order"):
        for stale in folder.glob(pattern):
            stale.unlink()
    (folder / (file or f"{name}.c")).write_text(source if source.endswith("\n")
                                                else source + "\n")
    lines = kbuild_lines if file else [f"obj-m := {name}.o", *kbuild_lines]
    (folder / "Kbuild").write_text("".join(f"{line}\n" for line in lines))
    return folder


def build_cell(name: str, source: str, kbuild_lines: list[str] | None = None,
               base: Path | None = None, file: str | None = None) -> CellBuild:
    """Write and build one cell's module. A missing compiler or headers is `problem`, not an
    exception, so a lesson goes on with its committed .ko files."""
    from kcourse import pin
    from kcourse.build import headers
    from kcourse.build.build_cli import missing_tool
    from kcourse.build.kbuild import KbuildError, build_module

    folder = write_sources(name, source, kbuild_lines or [], Path(base or Path.cwd()), file)
    problem = missing_tool()
    if problem:
        return CellBuild(name, folder, False, "", problem)
    try:
        tree = headers.build_tree(pin.release())
    except KcourseError as err:
        return CellBuild(name, folder, False, "", f"no kernel headers: {err}")
    try:
        result = build_module(folder, kdir=tree, out_dir=folder, cache=True)
        ok, output = True, result.output
    except KbuildError as err:
        ok, output = False, err.result.output
    shown = output.replace(f"{folder.resolve()}/", f"{name}/").replace(str(folder.resolve()),
                                                                        name)
    return CellBuild(name, folder, ok, shown)
