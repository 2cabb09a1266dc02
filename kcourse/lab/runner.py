"""RealKernel: run shell lines on Debian's real kernel, booted under QEMU, one boot per script.

    from kcourse.lab import RealKernel
    results = RealKernel().run_script(["insmod hello/hello.ko", "lsmod"])  # [CommandResult]
    results = RealKernel().run_script(Path("tests/scenarios/deps.sh").read_text())

Same results as the simulator's shell (kcourse.backend.CommandResult), so a test or a notebook
can hold the two side by side. Each script boots a fresh guest: QEMU with TCG (KVM is not
available on these machines), the PVH-bootable kernel and the cached base initramfs with a
small per-script archive appended (the lines, and the files the script names). Scripts start
in /root/modules, the course's data/modules, as in the simulator. The guest is killed when it
outlives `timeout` seconds, and the error names the line it was on; a panic or an exiting
shell is reported the same way (GuestError, with the lines that did finish).

The host kernel is never touched: nothing here runs insmod/rmmod/modprobe, nor sudo, on the
host; every module operation happens inside the guest.
"""

from __future__ import annotations

import secrets
import shlex
import subprocess
import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from kcourse.backend import CommandResult
from kcourse.errors import KcourseError
from kcourse.lab import guest, protocol
from kcourse.lab.prepare import Lab, Progress, _quiet, check_qemu, prepare

# console=ttyS0: the serial port is our channel. loglevel=1: only KERN_EMERG reaches the
# console, so printk output cannot interleave with the runner's lines (it stays in the log
# buffer, which the runner reads with dmesg). panic=-1 + -no-reboot: a panic ends QEMU.
# tsc=reliable: no clocksource watchdog messages appearing in the log mid-script under TCG.
CMDLINE = "console=ttyS0 loglevel=1 panic=-1 tsc=reliable"
MEMORY_MB = 512
# Guests booted at once by start_scripts: each QEMU (TCG, -smp 1) keeps one host core busy,
# and the machines the course targets have two.
WORKERS = 2


class GuestError(KcourseError):
    """The guest did not run the script to the end (hung, crashed, or never booted).

    `results` holds the lines that did finish; `console` the kernel's last console lines
    (an oops or panic report, which loglevel=1 still lets through at KERN_EMERG)."""

    def __init__(self, message: str, results: list[CommandResult] | None = None,
                 console: list[str] | None = None):
        super().__init__(message)
        self.results = results or []
        self.console = console or []


def qemu_command(qemu: str, kernel: Path, initrd: Path, cmdline: str = CMDLINE) -> list[str]:
    return [
        # -cpu max: TCG's model of a current CPU, with SMAP (arch/x86/kernel/cpu/common.c
        # setup_smap), as the simulator assumes; QEMU's default qemu64 CPU has none.
        qemu, "-accel", "tcg", "-cpu", "max", "-m", str(MEMORY_MB), "-smp", "1",
        "-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio",
        "-kernel", str(kernel), "-initrd", str(initrd), "-append", cmdline,
        "-no-reboot",
    ]  # fmt: skip


def _describe_failure(lines: list[str], transcript: protocol.Transcript, console: str,
                      what: str) -> str:
    index = transcript.last_started()
    if not transcript.ready:
        tail = [x for x in protocol.clean(console).splitlines() if x.strip()][-1:]
        detail = f": {tail[0][:120]}" if tail else ""
        return f"the guest {what} before the shell started{detail}"
    if index is None:
        return f"the guest {what} before running the first line"
    return f"the guest {what} while running line {index + 1}: {lines[index]}"


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
                 progress: Progress = _quiet, cmdline: str = CMDLINE):
        self._lab = lab
        self.timeout = timeout
        self.progress = progress
        self.cmdline = cmdline
        self.last_boot_seconds: float | None = None
        self.last_console = ""

    @property
    def lab(self) -> Lab:
        if self._lab is None:
            self._lab = prepare(self.progress)
        return self._lab

    @property
    def release(self) -> str:
        return self.lab.release

    def run_script(self, lines: list[str] | str, files: dict[str, Path] | None = None
                   ) -> list[CommandResult]:
        """Boot, run `lines` in one root bash, power off; one CommandResult per line.

        `lines` is a list of lines, or a script's text (split as the simulator splits it).

        The script starts in /root/modules, which holds the course's data/modules (with .ko
        files built for the guest's kernel). `files` adds files: guest name -> host path,
        an absolute name being kept as is, a relative one put under /root/modules. Host .ko
        files the lines name by absolute path are added by themselves (host_files).
        """
        if isinstance(lines, str):
            lines = script_lines(lines)
        lines = [line.rstrip("\n") for line in lines]
        qemu = check_qemu()
        lab = self.lab
        payload = host_files(lines)
        payload.update(files or {})
        blobs = {}
        for name, path in payload.items():
            try:
                blobs[name] = Path(path).read_bytes()
            except OSError as err:
                raise KcourseError(f"cannot read {path}: {err.strerror}") from err
        token = secrets.token_hex(8)
        archive = guest.script_archive(lines, token, blobs)
        with tempfile.TemporaryDirectory(prefix="kcourse-boot-") as tmp:
            initrd = Path(tmp) / "initrd"
            # Concatenated archives: the kernel unpacks one after the other, skipping NUL
            # padding, and takes an uncompressed one only at a 4-byte-aligned offset
            # (init/initramfs.c: unpack_to_rootfs, `!(this_header & 3)`).
            base = lab.initrd.read_bytes()
            initrd.write_bytes(base + b"\0" * (-len(base) % 4) + archive)
            console, status = self._boot(qemu_command(qemu, lab.kernel, initrd, self.cmdline))
        self.last_console = console
        transcript = protocol.parse(console, token)
        results = protocol.results(lines, transcript)
        if status == "timeout":
            raise GuestError(_describe_failure(
                lines, transcript, console, f"did not finish within {self.timeout:g} s"),
                results, transcript.noise[-40:])
        if len(results) < len(lines):
            panic = next((x for x in transcript.noise if "Kernel panic" in x), None)
            if panic is not None:
                what = f"panicked ({protocol.strip_timestamp(panic).strip()})"
            elif transcript.ready:
                what = "stopped: the shell exited"
            else:
                what = "stopped"
            raise GuestError(_describe_failure(lines, transcript, console, what), results,
                             transcript.noise[-40:])
        return results

    def _boot(self, command: list[str]) -> tuple[str, str]:
        """Run QEMU to power-off; returns (console text, 'ok' | 'timeout')."""
        start = time.monotonic()
        with tempfile.TemporaryFile() as out:
            try:
                proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out,
                                        stderr=subprocess.STDOUT)
            except OSError as err:
                raise KcourseError(f"cannot start {command[0]}: {err.strerror}") from err
            try:
                proc.wait(timeout=self.timeout)
                status = "ok"
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                status = "timeout"
            self.last_boot_seconds = time.monotonic() - start
            out.seek(0)
            console = out.read().decode("utf-8", errors="replace")
        return console, status


def start_scripts(scripts: dict[str, list[str] | str], lab: Lab | None = None,
                  timeout: float = 120.0, workers: int = WORKERS) -> dict[str, Future]:
    """Start each script in its own fresh guest, `workers` guests at a time, in background
    threads; name -> Future of run_script's result (its .result() raises what run_script
    raised). Each guest is independent (own boot, own initramfs), so running them side by
    side changes no result, only the wall-clock time."""
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kcourse-guest")
    try:
        return {name: pool.submit(RealKernel(lab=lab, timeout=timeout).run_script, lines)
                for name, lines in scripts.items()}
    finally:
        pool.shutdown(wait=False)  # the submitted guests still run; no new ones
