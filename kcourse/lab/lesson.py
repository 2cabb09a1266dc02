"""The lab lesson's sessions, run live on the real kernel or replayed from a recording.

Notebook 05 shows named sessions (SESSIONS) on the simulator and on Debian's kernel side by
side. Where QEMU is installed the real side runs live: `pytest --nbval` in CI then compares a
fresh real run with the stored cell output, so a kernel that changed its words fails the
notebook. Where QEMU is absent (a learner's laptop, the nbval run the design promises "with no
QEMU and no network"), `real_results` returns the recording made by `record()` on a real run
(kcourse/lab/recordings.py) and the same text is printed: that cell then checks nothing, as a
skipped cell would, and the notebook's status cell (whose output nbval ignores) says which
of the two happened. Under CI (KCOURSE_REQUIRE_REAL=1) a missing QEMU is an error, never a
silent replay.

Printed results are normalised (kcourse.lab.compare: addresses and timestamps masked), so a
live run prints exactly what the recording holds.

The "debian" session loads Debian's own modules: its simulator side runs with the same Debian
modules in the simulated /lib/modules as the guest's (Shell(debian_tree=DEBIAN_MODULES)), read
from Debian's linux-image package in the cache, which the lab's preparation fetches (or
`kcourse lab-prepare --modules-only`, without QEMU). A machine whose cache lacks it (no QEMU,
never prepared) replays the recording on that side too, and the status cell says so; under CI
a missing tree is an error.
"""

from __future__ import annotations

import os

from kcourse.backend import CommandResult
from kcourse.errors import KcourseError
from kcourse.lab.compare import compare, normalise, side_by_side

SESSIONS: dict[str, list[str]] = {
    # The internals lesson's session: load, look at /proc and /sys, dependencies, unload.
    "internals": [
        "insmod hello/hello.ko whom=lab",
        "cat /proc/modules",
        "lsmod",
        "ls /sys/module/hello",
        "cat /sys/module/hello/initstate /sys/module/hello/refcnt /sys/module/hello/taint",
        "cat /sys/module/hello/coresize /sys/module/hello/initsize",
        "ls -a /sys/module/hello/sections",
        "cat /proc/sys/kernel/tainted",
        "modprobe consumer",
        "lsmod",
        "cat /sys/module/provider/refcnt",
        "ls /sys/module/provider/holders",
        "rmmod provider",
        "rmmod consumer provider hello",
        "dmesg",
    ],
    # Breaking things on purpose: a failing init, a module in use, tampered copies.
    "breaking": [
        "insmod failinit/failinit.ko",
        "insmod kcdev/kcdev.ko",
        "exec 3< /dev/kcdev",
        "rmmod kcdev",
        "exec 3<&-",
        "rmmod kcdev",
        "insmod /tmp/kcourse-tampered/hello-nopreempt.ko",
        "insmod /tmp/kcourse-tampered/hello-badcrc.ko",
        "insmod /tmp/kcourse-tampered/hello-release.ko",
        "rmmod hello",
        "dmesg",
    ],
    # Debian's own modules: signed, in-tree, loaded with their dependencies.
    "debian": [
        "modprobe 8021q",
        "lsmod",
        "modprobe -r 8021q",
        "lsmod",
        "cat /proc/sys/kernel/tainted",
        "dmesg",
    ],
}


# Sessions whose simulated /lib/modules also holds the lab's Debian modules.
DEBIAN_SESSIONS = ("debian",)

_LAB = None  # the prepared lab, once a live run was possible
_WHY = ""  # why the last attempt could not prepare it
_STARTED: dict = {}  # session name -> Future of its live run, started by status()


def _require_real() -> bool:
    return os.environ.get("KCOURSE_REQUIRE_REAL") == "1"


def live_lab(progress=None):
    """The prepared lab when the real kernel can run here, else None (with the reason why
    printed by status()). Under KCOURSE_REQUIRE_REAL=1 a missing QEMU or a failed
    preparation is an error instead."""
    global _LAB, _WHY
    if _LAB is not None:
        return _LAB
    from kcourse.lab import available
    from kcourse.lab.prepare import prepare

    if not available():
        if _require_real():
            raise KcourseError("QEMU is required here (KCOURSE_REQUIRE_REAL=1) but not installed")
        return None
    try:
        _LAB = prepare(progress=progress or (lambda step: None))
    except KcourseError as err:
        if _require_real():
            raise
        _WHY = str(err)
        return None
    return _LAB


def status() -> bool:
    """Say whether the real-kernel cells run live or replay the recording; prepare the lab."""
    from kcourse.lab import available, recordings

    try:
        lab = live_lab(progress=print)
    except KcourseError as err:
        print(f"the real-kernel lab is required here but cannot run: {err}")
        raise
    if lab is not None:
        print(f"QEMU found: the real-kernel cells boot Debian's {lab.release} live.")
        _debian_status()
        _start_all(lab)
        return True
    why = "QEMU is not installed" if not available() else f"the lab is not ready ({_WHY})"
    print(f"{why}: the real-kernel cells show a recording made on {recordings.RELEASE} "
          "(apt-get install qemu-system-x86 busybox-static, with network once, to run them "
          "live).")
    _debian_status()
    return False


def _debian_tree_cached() -> bool:
    """Whether Debian's module tree for the pinned course kernel is in the cache."""
    from kcourse.debian import cached_image_modules_dir

    return cached_image_modules_dir() is not None


def _debian_status() -> None:
    if not _debian_tree_cached():
        print("Debian's modules are not in the cache: the simulator side of the Debian session "
              "shows the recording too (`kcourse lab-prepare --modules-only` fetches them, "
              "about 70 MB, no QEMU needed).")


def _normalised(result: CommandResult) -> CommandResult:
    return CommandResult(result.line, normalise(result.stdout), normalise(result.stderr),
                         result.rc, tuple(normalise(x) for x in result.dmesg))


def _prepare_files() -> None:
    from kcourse.lab.tamper import make_course_copies

    make_course_copies()  # the tampered copies the "breaking" session names


def _start_all(lab) -> None:
    """Boot every session's guest now, two at a time in the background (each session is
    its own fresh boot, so none depends on another), for the cells below to collect, and
    the notebook's own guest, which `%%kshell --real` cells use (kcourse.magic)."""
    from kcourse.lab.runner import start_scripts
    from kcourse.magic import notebook_real_shell

    _prepare_files()
    # in the order the cells need them: the notebook's guest (the exercise's real check)
    # comes before the last session ("debian"), shown after that check
    first = {n: lines for n, lines in SESSIONS.items() if n != "debian"}
    _STARTED.update(start_scripts(first, lab=lab))
    notebook_real_shell(lab=lab).start()
    _STARTED.update(start_scripts({"debian": SESSIONS["debian"]}, lab=lab))


def real_results(name: str) -> list[CommandResult]:
    """The session on the real kernel: live when the lab can run here, else the recording.
    A run status() started is collected once; any later call boots afresh."""
    lab = live_lab()
    if lab is None:
        from kcourse.lab import recordings

        return [CommandResult(**item) for item in recordings.SESSIONS[name]]
    started = _STARTED.pop(name, None)
    if started is not None:
        return [_normalised(r) for r in started.result()]
    from kcourse.lab.runner import RealKernel

    _prepare_files()
    return [_normalised(r) for r in RealKernel(lab=lab).run_script(SESSIONS[name])]


def simulator_results(name: str) -> list[CommandResult]:
    """The session in a fresh simulated kernel; for DEBIAN_SESSIONS its /lib/modules holds the
    same Debian modules as the guest's (kcourse.lab.prepare.DEBIAN_MODULES and their
    depends= closure). Without Debian's tree in the cache, that session replays the recording
    (an error under KCOURSE_REQUIRE_REAL=1)."""
    from kcourse.lab.prepare import DEBIAN_MODULES
    from kcourse.shell import Shell
    from kcourse.shell.moddir import DebianTreeMissing

    _prepare_files()
    try:
        shell = Shell(debian_tree=DEBIAN_MODULES if name in DEBIAN_SESSIONS else False)
    except DebianTreeMissing:
        if _require_real():
            raise
        from kcourse.lab import recordings

        return [CommandResult(**item) for item in recordings.SESSIONS[name]]
    return [_normalised(r) for r in shell.run_script("\n".join(SESSIONS[name]))]


def show(name: str) -> None:
    """Print the session on both backends, command by command."""
    print(side_by_side(compare(simulator_results(name), real_results(name))), end="")


def record(path=None) -> None:
    """Run every session live and write kcourse/lab/recordings.py (needs QEMU)."""
    from pathlib import Path

    from kcourse.lab.prepare import prepare
    from kcourse.lab.runner import start_scripts

    lab = prepare(progress=print)
    _prepare_files()
    started = start_scripts(SESSIONS, lab=lab)
    sessions = {}
    for name, future in started.items():
        results = [_normalised(r) for r in future.result()]
        sessions[name] = [
            {"line": r.line, "stdout": r.stdout, "stderr": r.stderr, "rc": r.rc,
             "dmesg": r.dmesg} for r in results
        ]
    target = Path(path) if path else Path(__file__).with_name("recordings.py")
    text = [
        '"""Recorded by kcourse.lab.lesson.record() on the real kernel (QEMU); do not edit."""\n',
        "# ruff: noqa: E501\n\n",
        f"RELEASE = {lab.release!r}\n\n",
        "SESSIONS = {\n",
    ]
    for name, items in sessions.items():
        text.append(f"    {name!r}: [\n")
        text += [f"        {item!r},\n" for item in items]
        text.append("    ],\n")
    text.append("}\n")
    target.write_text("".join(text))
    print(f"wrote {target.name}: {', '.join(sessions)}")


if __name__ == "__main__":
    record()
