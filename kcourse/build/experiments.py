"""Small modules built with the real kbuild, to show what the build really prints.

A lesson that says "the compiler refuses this" or "modpost stops with that" shows the words of
a real run, not a paraphrase. Each experiment is a folder data/experiments/NAME/ with the C
file and its Kbuild, and `make.txt`: what

    make -C /usr/src/linux-headers-<release> M=/tmp/kcourse-build/NAME [VARS] modules

printed on Debian 12 (gcc 12.2.0, the course kernel's headers), stdout and stderr as one
stream, as a terminal shows them, with LC_ALL=C.UTF-8 (gcc's quotes are then ‘ ’). An
experiment that builds keeps its `NAME.ko` (stripped with `strip --strip-debug`, as
scripts/build-modules.sh does for the course modules), so a lesson can load it.

`python -m kcourse.build.experiments [NAME...]` re-records them (the pinned headers must be
installed in /usr/src); tests/test_lesson_tools.py rebuilds each one in a temporary folder and
compares its output with `make.txt`, the folder's path being the only difference.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from kcourse import pin
from kcourse.errors import KcourseError
from kcourse.paths import data_dir

RECORDED_IN = "/tmp/kcourse-build"   # M= of the recorded runs (kept in make.txt as is)


@dataclass(frozen=True)
class Experiment:
    name: str
    teaches: str
    make_vars: tuple[str, ...] = ()      # e.g. ("KBUILD_MODPOST_WARN=1",)
    keeps_ko: bool = False               # the build succeeds and the .ko is committed
    lessons: tuple[str, ...] = field(default=())

    @property
    def folder(self) -> Path:
        return experiments_dir() / self.name

    @property
    def ko(self) -> Path:
        return self.folder / f"{self.name}.ko"

    def command(self, kdir: str, out: str) -> list[str]:
        return ["make", "-C", kdir, f"M={out}", *self.make_vars, "modules"]


EXPERIMENTS = {e.name: e for e in (
    Experiment("printf_stdio", "libc's headers are not there: kbuild passes -nostdinc",
               lessons=("01",)),
    Experiment("printf_undeclared", "an undeclared function is an error: kbuild passes "
               "-Werror=implicit-function-declaration", lessons=("01",)),
    Experiment("printf_declared", "with a prototype gcc compiles printf(\"...\\n\") as "
               "puts(), and modpost finds no exported puts", lessons=("01",)),
    Experiment("printf_forced", "the same module with modpost's error made a warning "
               "(KBUILD_MODPOST_WARN=1): a .ko the kernel then refuses",
               make_vars=("KBUILD_MODPOST_WARN=1",), keeps_ko=True, lessons=("01",)),
    Experiment("bigframe", "a 20000-byte local array: gcc's -Wframe-larger-than=2048 "
               "(CONFIG_FRAME_WARN) warns at build time", keeps_ko=True, lessons=("01",)),
    Experiment("fpdouble", "a double in kernel code: x86's -mno-sse -mno-80387 leave gcc no "
               "register to return it in", lessons=("01",)),
    Experiment("whoami", "whose task runs a module's code: it prints current->comm in init, "
               "read() and exit", keeps_ko=True, lessons=("01",)),
    Experiment("initoops", "an init function that dereferences NULL: the module is left "
               "half-loaded", keeps_ko=True, lessons=("01",)),
    Experiment("lookup", "kallsyms_lookup_name() is in /proc/kallsyms but not exported: "
               "modpost refuses it", lessons=("02",)),
    Experiment("lookup_forced", "the same, forced past modpost (KBUILD_MODPOST_WARN=1): the "
               "kernel's loader refuses it too", make_vars=("KBUILD_MODPOST_WARN=1",),
               keeps_ko=True, lessons=("02",)),
)}


def experiments_dir() -> Path:
    return data_dir() / "experiments"


def get(name: str) -> Experiment:
    try:
        return EXPERIMENTS[name]
    except KeyError:
        raise KcourseError(f"no experiment named {name!r} (there are: "
                           f"{', '.join(EXPERIMENTS)})") from None


def recorded(name: str) -> str:
    """The recorded make output of experiment NAME."""
    return (get(name).folder / "make.txt").read_text()


def command_line(name: str) -> str:
    """The command of the recorded run, as typed."""
    e = get(name)
    return " ".join(e.command(f"/usr/src/linux-headers-{pin.release()}",
                              f"{RECORDED_IN}/{name}"))


def show(name: str, lines: slice | None = None) -> None:
    """Print `$ make ...` and what it printed (or the lines `lines` selects of it)."""
    text = recorded(name).splitlines()
    print(f"$ {command_line(name)}")
    print("\n".join(text[lines] if lines else text))


def source(name: str) -> str:
    return (get(name).folder / f"{name}.c").read_text()


def headers_dir() -> Path:
    """The installed headers of the pinned kernel (recordings name this path)."""
    kdir = Path(f"/usr/src/linux-headers-{pin.release()}")
    if not (kdir / "Makefile").is_file():
        raise KcourseError(f"{pin.headers_package()} is not installed in /usr/src "
                           f"(apt-get install {pin.headers_package()})")
    return kdir


def run(name: str, out: Path) -> tuple[int, str]:
    """Build experiment NAME in folder `out` (made empty first); returns (status, output)
    with `out` written as /tmp/kcourse-build/NAME, as in the recording."""
    e = get(name)
    if shutil.which("make") is None:
        raise KcourseError("make is not installed (apt-get install build-essential)")
    kdir = headers_dir()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for file in (f"{name}.c", "Kbuild"):
        shutil.copy(e.folder / file, out / file)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KBUILD_", "MAKEFLAGS"))}
    env["LC_ALL"] = "C.UTF-8"
    proc = subprocess.run(e.command(str(kdir), str(out.resolve())), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, env=env, check=False,
                          timeout=600)
    return proc.returncode, proc.stdout.replace(str(out.resolve()), f"{RECORDED_IN}/{name}")


def record(name: str) -> None:
    """Re-record experiment NAME: build in /tmp/kcourse-build/NAME, keep make.txt (and the
    stripped .ko when the experiment keeps one)."""
    e = get(name)
    out = Path(RECORDED_IN) / name
    status, output = run(name, out)
    if e.keeps_ko != (status == 0):
        raise KcourseError(f"{name}: make exited with {status}, expected "
                           f"{'success' if e.keeps_ko else 'a failure'}:\n{output}")
    (e.folder / "make.txt").write_text(output)
    if e.keeps_ko:
        shutil.copy(out / f"{name}.ko", e.ko)
        subprocess.run(["strip", "--strip-debug", str(e.ko)], check=True)


def main(argv: list[str]) -> int:
    try:
        for name in argv or list(EXPERIMENTS):
            record(name)
            print(f"recorded {name}", file=sys.stderr)
    except KcourseError as err:
        print(f"experiments: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
