"""Command-line entry points of the lab (wired into `kcourse` by kcourse/cli.py).

    kcourse sim --real [--transcript] [SCRIPT]   real_sim_main: the `kcourse sim` contract,
                                                 on Debian's kernel under QEMU; the .ko
                                                 files the script names relative to the
                                                 caller's folder go into the guest with it
    kcourse lab-prepare [--modules-only]         prepare_main: fetch and build the lab now,
                                                 printing each step; --modules-only: only
                                                 Debian's module tree, for the simulator
                                                 (`kcourse sim --debian`), no QEMU needed

Each returns an exit status; errors are KcourseError (one line, no traceback).
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from kcourse.backend import format_transcript
from kcourse.errors import KcourseError

USAGE = "usage: kcourse sim --real [--transcript] [SCRIPT]"


def _progress(step: str) -> None:
    print(f"kcourse lab: {step}", file=sys.stderr, flush=True)


def real_sim_main(argv: list[str]) -> int:
    """`kcourse sim --real ...`; `--real` itself may be left in argv."""
    from kcourse.shell.sim import parse_args

    parsed = parse_args(argv, USAGE, ("--transcript", "--real"))
    if parsed is None:
        print(USAGE)
        return 0
    given, name = parsed
    transcript = "--transcript" in given
    if name == "-":
        text = sys.stdin.read()
    else:
        try:
            with open(name, encoding="utf-8", errors="surrogateescape") as handle:
                text = handle.read()
        except OSError as err:
            raise KcourseError(f"cannot read {name}: {err.strerror}") from None

    from kcourse.lab.runner import RealKernel, script_lines

    lines = script_lines(text)
    results = RealKernel(progress=_progress).run_script(lines, files=workdir_files(lines))
    if transcript:
        sys.stdout.write(format_transcript(results))
    else:
        for result in results:
            sys.stdout.write(result.stdout)
            sys.stdout.flush()
            sys.stderr.write(result.stderr)
            sys.stderr.flush()
    return results[-1].rc if results else 0


def workdir_files(lines: list[str], folder: str | None = None) -> dict[str, Path]:
    """Module files the lines name by a path relative to the caller's folder: {name: path}.

    `kcourse sim` starts in the caller's folder, so `insmod hello-1/hello-1.ko` reads
    ./hello-1/hello-1.ko from the host; the guest's shell starts in /root/modules, and the
    runner puts a relative name there (RealKernel.run_script `files`), so the same line finds
    the same file in both. Names with `..`, and files that do not exist, are left out (the
    guest then says what it says about them)."""
    from kcourse.lab.runner import KO_SUFFIXES

    base = Path(folder or os.getcwd())
    found: dict[str, Path] = {}
    for line in lines:
        try:
            words = shlex.split(line, comments=True)
        except ValueError:
            continue
        for word in words:
            if word.startswith(("/", "-")) or not word.endswith(KO_SUFFIXES):
                continue
            if ".." in word.split("/") or not (base / word).is_file():
                continue
            found[os.path.normpath(word)] = base / word
    return found


PREPARE_USAGE = "usage: kcourse lab-prepare [--modules-only]"


def prepare_main(argv: list[str]) -> int:
    """`kcourse lab-prepare`: everything the lab needs, fetched and built now.
    `--modules-only`: Debian's module tree only (fetched and indexed for the simulator)."""
    if argv in (["-h"], ["--help"]):
        print(PREPARE_USAGE)
        return 0
    if argv not in ([], ["--modules-only"]):
        raise KcourseError(PREPARE_USAGE)
    if argv:
        from kcourse.lab.prepare import prepare_modules

        release, count = prepare_modules(progress=_progress)
        print(f"{release}: Debian's module tree cached, {count} modules indexed "
              "(kcourse sim --debian)")
        return 0
    from kcourse.lab.prepare import prepare

    lab = prepare(progress=_progress)
    size = lab.manifest.get("initramfs_bytes", 0)
    print(f"{lab.release}: kernel {lab.kernel.name}, initramfs {size // 1024} KiB, "
          f"{len(lab.course)} course modules, "
          f"{len(lab.manifest.get('debian_modules', []))} Debian modules")
    # one guest now, so that the boot is saved (kcourse.lab.snapshot) before a lesson needs it
    from kcourse.lab.runner import RealKernel

    with RealKernel(lab=lab, progress=_progress).boot() as guest:
        release = guest.run(["uname -r"])[0].stdout.strip()
        how = "started from the saved boot" if guest.restored else "booted"
    print(f"{release}: a guest {how} in {guest.boot_seconds:.1f} s")
    return 0
