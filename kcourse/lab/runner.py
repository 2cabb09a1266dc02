"""RealKernel: run shell lines on Debian's real kernel, booted under QEMU.

    from kcourse.lab import RealKernel
    results = RealKernel().run_script(["insmod hello/hello.ko", "lsmod"])  # [CommandResult]
    results = RealKernel().run_script(Path("tests/scenarios/deps.sh").read_text())
    guest = RealKernel().boot()            # a guest that stays up (kcourse.lab.live.Guest)

Same results as the simulator's shell (kcourse.backend.CommandResult), so a test or a notebook
can hold the two side by side. run_script boots a fresh guest for each script (a fresh kernel:
every scenario starts from the same state, and a crash ends only its own run), runs the lines
and stops it; boot() hands the caller a guest to keep (kcourse.lab.session.RealShell, behind
`%%kshell --real`). A guest is QEMU with TCG (KVM is not available on these machines), the
PVH-bootable kernel and the cached base initramfs with a small per-boot archive appended (the
shell's start-up, and the files the script names). Scripts start in /root/modules, the
course's data/modules, as in the simulator. A guest that does not boot, or does not finish
the lines, within `timeout` seconds is killed, and the error names the line it was on; a panic
or an exiting shell is reported the same way (GuestError, with the lines that did finish).

The host kernel is never touched: nothing here runs insmod/rmmod/modprobe, nor sudo, on the
host; every module operation happens inside the guest.
"""

from __future__ import annotations

import shlex
import time
from concurrent.futures import Future
from pathlib import Path

from kcourse.backend import CommandResult
from kcourse.errors import KcourseError
from kcourse.lab.background import BOOTS, WORKERS
from kcourse.lab.live import CMDLINE, MEMORY_MB, Guest, GuestError, qemu_command
from kcourse.lab.prepare import Lab, Progress, _quiet, check_qemu, prepare

__all__ = ["CMDLINE", "MEMORY_MB", "WORKERS", "GuestError", "RealKernel", "qemu_command",
           "start_scripts", "host_files", "script_lines", "read_files"]


KO_SUFFIXES = (".ko", ".ko.xz", ".ko.zst", ".ko.gz")
NOT_COPIED = ("/proc/", "/sys/", "/dev/", "/lib/modules/", "/usr/lib/modules/", "/root/modules/")


def host_files(lines: list[str]) -> dict[str, Path]:
    """Module files on the host that the lines name by absolute path: {path: path}.

    The simulator reads such a path from the host (kcourse/shell/fs.py: "any other absolute
    path"); the guest gets a copy at the same place, so both print the same path.
    """
    found: dict[str, Path] = {}
    for line in lines:
        try:
            words = shlex.split(line, comments=True)
        except ValueError:
            continue
        for word in words:
            word = word.split("=", 1)[-1] if word.startswith("-") else word
            if not word.startswith("/") or not word.endswith(KO_SUFFIXES):
                continue
            if word.startswith(NOT_COPIED) or ".." in word.split("/"):
                continue
            path = Path(word)
            if path.is_file():
                found[word] = path
    return found


def script_lines(text: str) -> list[str]:
    """A script's lines as the simulator's shell runs them (kcourse.shell.core.run_script):
    backslash continuations joined, blank lines and comment lines left out."""
    from kcourse.shell.core import script_commands

    return [line for _, line in script_commands(text)]


class RealKernel:
    """Runs scripts on a real Debian kernel in QEMU. `prepare()` happens on first use."""

    def __init__(self, lab: Lab | None = None, timeout: float = 120.0,
                 progress: Progress = _quiet, cmdline: str = CMDLINE, cpus: int = 1):
        self._lab = lab
        self.cpus = cpus  # -smp: 1 for every lesson and scenario; 2 for kcourse.lab.race
        self.timeout = timeout
        self.progress = progress
        self.cmdline = cmdline
        self.last_boot_seconds: float | None = None

    @property
    def lab(self) -> Lab:
        if self._lab is None:
            self._lab = prepare(self.progress)
        return self._lab

    @property
    def release(self) -> str:
        return self.lab.release

    def boot(self, files: dict[str, Path] | None = None) -> Guest:
        """A fresh guest of this kernel, up and waiting for lines; the caller closes it.
        `files`: guest name -> host path, in the guest from the start."""
        qemu = check_qemu()
        lab = self.lab
        guest = Guest(qemu, lab, self.cmdline, read_files(files or {}), timeout=self.timeout,
                      cpus=self.cpus)
        self.last_boot_seconds = guest.boot_seconds
        return guest

    def run_script(self, lines: list[str] | str, files: dict[str, Path] | None = None
                   ) -> list[CommandResult]:
        """Boot, run `lines` in one root bash, stop the guest; one CommandResult per line.

        `lines` is a list of lines, or a script's text (split as the simulator splits it).

        The script starts in /root/modules, which holds the course's data/modules (with .ko
        files built for the guest's kernel). `files` adds files: guest name -> host path,
        an absolute name being kept as is, a relative one put under /root/modules. Host .ko
        files the lines name by absolute path are added by themselves (host_files).
        """
        if isinstance(lines, str):
            lines = script_lines(lines)
        lines = [line.rstrip("\n") for line in lines]
        payload = host_files(lines)
        payload.update(files or {})
        start = time.monotonic()
        guest = self.boot(payload)
        try:
            return guest.run(lines, timeout=self.timeout)
        finally:
            guest.close()
            self.last_boot_seconds = time.monotonic() - start  # boot to result


def read_files(files: dict[str, Path]) -> dict[str, bytes]:
    """guest name -> host path, read: guest name -> bytes (one clear line if unreadable)."""
    blobs = {}
    for name, path in files.items():
        try:
            blobs[name] = Path(path).read_bytes()
        except OSError as err:
            raise KcourseError(f"cannot read {path}: {err.strerror}") from err
    return blobs


def start_scripts(scripts: dict[str, list[str] | str], lab: Lab | None = None,
                  timeout: float = 120.0) -> dict[str, Future]:
    """Start each script in its own fresh guest in the background, WORKERS guests at a time,
    in the order given (kcourse.lab.background.BOOTS); name -> Future of run_script's result
    (its .result() raises what run_script raised). Each guest is independent (own boot, own
    initramfs), so running them side by side changes no result, only the wall-clock time."""
    return {name: BOOTS.submit(RealKernel(lab=lab, timeout=timeout).run_script, lines)
            for name, lines in scripts.items()}
