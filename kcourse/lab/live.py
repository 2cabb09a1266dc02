"""A real-kernel guest that stays up: QEMU, Debian's kernel and one root bash on the console.

    guest = Guest(qemu, lab)                          # boots: about 3-6 s under TCG, once;
                                                      # then from the saved boot in < 1 s
                                                      # (kcourse.lab.snapshot)
    Guest(qemu, lab, cpus=2)                          # two CPUs (-smp 2), e.g. kcourse.lab.race
    guest.run(["insmod hello/hello.ko"])              # -> [CommandResult]
    guest.run(["lsmod"])                              # same kernel: hello is still loaded
    guest.close()

Each line goes over the serial console and comes back as its output, exit status and the
kernel log lines it caused (the protocol is kcourse.lab.guest's; the parsing
kcourse.lab.protocol's). A guest that panics, whose shell ends, or that does not answer in
time raises GuestError, one line naming the line it was on, and is stopped for good.

No guest outlives its owner. QEMU runs in its own process group, killed as a whole by
close(), by a weakref finalizer when the Guest is collected, and by the same finalizer at
interpreter exit (atexit). If the process dies without running them (SIGKILL, os._exit),
the kernel ends QEMU itself: it is started through `setpriv --pdeathsig KILL`, from one
long-lived thread (kcourse.lab.background.SPAWNER; the death signal follows the thread that
forked). Nothing here touches the host's kernel: every module operation happens in the guest.
"""

from __future__ import annotations

import gzip
import os
import secrets
import select
import shutil
import signal
import subprocess
import time
import weakref
from collections.abc import Callable
from pathlib import Path

from kcourse.backend import CommandResult
from kcourse.errors import KcourseError
from kcourse.lab import guest, protocol, snapshot
from kcourse.lab.background import SPAWNER
from kcourse.lab.prepare import Lab

# console=ttyS0: the serial port is our channel. loglevel=1: only KERN_EMERG reaches the
# console, so printk output cannot interleave with the shell's lines (it stays in the log
# buffer, which the shell reads with dmesg). panic=-1 + -no-reboot: a panic ends QEMU.
# tsc=reliable: no clocksource watchdog messages appearing in the log mid-script under TCG.
# cryptomgr.notests: the crypto self-tests are skipped (crypto/testmgr.c alg_test: `if
# (!fips_enabled && notests) return 0`); under TCG they take about a quarter of the boot
# (initcall_debug: crypto_kdf108_init's hmac(sha256) instances tested, then crypto_algapi_init).
# no_timer_check: the boot does not test the IO-APIC timer (arch/x86/kernel/apic/io_apic.c:
# timer_irq_works returns 1), a test a busy host can make fail under TCG: "Kernel panic - not
# syncing: IO-APIC + timer doesn't work!" (seen with the host's load average at 10).
CMDLINE = "console=ttyS0 loglevel=1 panic=-1 tsc=reliable cryptomgr.notests no_timer_check"
MEMORY_MB = 512
MAX_CPUS = 8  # -smp for a guest; each virtual CPU is a host thread under multi-threaded TCG
NOISE_KEPT = 200  # console lines outside the protocol kept for an error report
PACK_ABOVE = 4096  # files larger than this go through the console gzip-compressed


class GuestError(KcourseError):
    """The guest did not answer (hung, crashed, its shell ended, or it never booted).

    `results` holds the lines that did finish; `console` the kernel's last console lines
    (an oops or panic report, which loglevel=1 still lets through at KERN_EMERG)."""

    def __init__(self, message: str, results: list[CommandResult] | None = None,
                 console: list[str] | None = None):
        super().__init__(message)
        self.results = results or []
        self.console = console or []


def qemu_command(qemu: str, kernel: Path, initrd: Path, cmdline: str = CMDLINE,
                 cpus: int = 1) -> list[str]:
    # cpus > 1: one host thread per virtual CPU, so the CPUs really run at once. QEMU 7.2 does
    # this by default for an x86 guest on an x86 host (with -name debug-threads=on its threads
    # are "CPU 0/TCG", "CPU 1/TCG"; thread=single gives one "ALL CPUs/TCG" running them in
    # turn); thread=multi says so, and a QEMU that cannot refuses to start.
    accel = "tcg" if cpus == 1 else "tcg,thread=multi"
    return [
        # -cpu max: TCG's model of a current CPU, with SMAP (arch/x86/kernel/cpu/common.c
        # setup_smap), as the simulator assumes; QEMU's default qemu64 CPU has none.
        qemu, "-accel", accel, "-cpu", "max", "-m", str(MEMORY_MB), "-smp", str(cpus),
        "-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio",
        "-kernel", str(kernel), "-initrd", str(initrd), "-append", cmdline,
        "-no-reboot",
    ]  # fmt: skip


def _death_signal_prefix() -> list[str]:
    """`setpriv --pdeathsig KILL --` (util-linux 2.33+), or nothing where it is missing."""
    setpriv = shutil.which("setpriv", path="/usr/bin:/bin:/usr/sbin:/sbin")
    return [setpriv, "--pdeathsig", "KILL", "--"] if setpriv else []


def _popen(command: list[str], initrd_fd: int) -> subprocess.Popen:
    try:
        return subprocess.Popen(_death_signal_prefix() + command, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, bufsize=0,
                                pass_fds=(initrd_fd,),
                                start_new_session=True)  # its own process group
    except OSError as err:
        raise KcourseError(f"cannot start {command[0]}: {err.strerror}") from err


def _initrd(lab: Lab, archive: bytes) -> int:
    """The boot's initramfs in an anonymous memory file (memfd_create(2)): the lab's base
    archive, then the per-boot one. QEMU reads it as /dev/fd/N; it is freed with the last
    descriptor, so no file is ever left behind, whatever ends the process.

    Concatenated archives: the kernel unpacks one after the other, skipping NUL padding, and
    takes an uncompressed one only at a 4-byte-aligned offset (init/initramfs.c:
    unpack_to_rootfs, `!(this_header & 3)`)."""
    fd = os.memfd_create("kcourse-initrd")
    try:
        with open(lab.initrd, "rb") as base:
            size = os.fstat(base.fileno()).st_size
            copied = 0
            while copied < size:
                copied += os.sendfile(fd, base.fileno(), copied, size - copied)
        os.write(fd, b"\0" * (-size % 4) + archive)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _stop(proc: subprocess.Popen) -> None:
    """Kill QEMU's process group and reap it."""
    if proc.poll() is None:  # not reaped yet, so its pid (and group id) is still ours
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait()
    for pipe in (proc.stdin, proc.stdout):
        try:
            pipe.close()
        except OSError:
            pass


class Guest:
    """One booted guest. run() may be called any number of times, from one thread at a time.

    `files` (guest name -> bytes) are in the guest from boot on: an absolute name stays where
    it is, a relative one lands under /root/modules (kcourse.lab.guest.guest_file_path).
    """

    def __init__(self, qemu: str, lab: Lab, cmdline: str = CMDLINE,
                 files: dict[str, bytes] | None = None, timeout: float = 120.0,
                 cpus: int = 1):
        if isinstance(cpus, bool) or not isinstance(cpus, int) or not 1 <= cpus <= MAX_CPUS:
            raise KcourseError(f"cpus must be a whole number from 1 to {MAX_CPUS}, not {cpus!r}")
        self.cpus = cpus
        self._timeout = timeout
        self.alive = False
        self.boot_seconds: float | None = None
        self.restored = False  # started from a saved guest (kcourse.lab.snapshot)
        self._partial = b""
        self._log: list[str] = []  # the last dmesg snapshot
        self._next_line = 0
        self._next_file = 0
        start = time.monotonic()
        deadline = start + timeout
        files = files or {}
        try:
            for name in files:
                guest.guest_file_path(name)  # a bad name is refused before QEMU starts
        except ValueError as err:
            raise KcourseError(str(err)) from None
        digest = self._snapshot_key(qemu, lab, cmdline, cpus)
        saved = snapshot.find(lab, digest) if digest else None
        if saved is not None:
            self.restored = self._restore(qemu, lab, saved, deadline)
            if not self.restored:
                snapshot.discard(saved)
        if not self.restored:
            self._boot(qemu, lab, cmdline, cpus, {} if digest else files, deadline, digest)
        self.alive = True
        if digest:  # the saved guest had no files: they go in now
            for name, data in files.items():
                status = self._put(name, data, deadline)
                if status != "ok":
                    raise self._failure(status, timeout, f"while copying {name} into the guest")
        self.boot_seconds = time.monotonic() - start

    @staticmethod
    def _snapshot_key(qemu: str, lab: Lab, cmdline: str, cpus: int) -> str | None:
        """The snapshot this guest can start from, or None when it must boot (another
        command line or CPU count, snapshots off, no place to keep them)."""
        if cpus != 1 or cmdline != CMDLINE or not snapshot.enabled() \
                or not os.access(Path(lab.kernel).parent, os.W_OK):
            return None
        path = shutil.which(qemu) or qemu
        return snapshot.key(path, lab, qemu_command(path, Path(lab.kernel), Path("INITRD")))

    def _spawn(self, command: list[str], fd: int) -> None:
        try:
            self._proc = SPAWNER.submit(_popen, command, fd).result()
        finally:
            os.close(fd)  # QEMU has its own descriptor
        self._finalizer = weakref.finalize(self, _stop, self._proc)
        self.pid = self._proc.pid
        os.set_blocking(self._proc.stdin.fileno(), False)

    def _boot(self, qemu: str, lab: Lab, cmdline: str, cpus: int, files: dict[str, bytes],
              deadline: float, digest: str | None) -> None:
        """Boot the kernel to READY; with a snapshot key, save the guest there too."""
        self.token = secrets.token_hex(8)
        self.transcript = protocol.Transcript(self.token)
        try:
            archive = guest.boot_archive(self.token, files)
        except ValueError as err:
            raise KcourseError(str(err)) from None
        folder = snapshot.monitor_dir() if digest else None
        extra = snapshot.monitor_args(folder) if folder else []
        try:
            fd = _initrd(lab, archive)
            self._spawn(qemu_command(qemu, lab.kernel, Path(f"/dev/fd/{fd}"), cmdline, cpus)
                        + extra, fd)
            status = self._wait(lambda: self.transcript.ready, deadline)
            if status != "ok":
                raise self._failure(status, self._timeout)
            if folder:
                self._save(folder, lab, digest, deadline)
        finally:
            if folder:
                shutil.rmtree(folder, ignore_errors=True)

    def _save(self, folder: str, lab: Lab, digest: str, deadline: float) -> None:
        """Keep this guest at READY for the next ones; a failure only costs them a boot."""
        monitor = None
        try:
            monitor = snapshot.Monitor(f"{folder}/qmp", deadline)
            snapshot.save(monitor, lab, digest, self.token, deadline)
        except OSError:
            pass
        finally:
            if monitor is not None:
                monitor.close()

    def _restore(self, qemu: str, lab: Lab, saved: snapshot.Snapshot, deadline: float) -> bool:
        """Start QEMU from the saved guest; False (QEMU stopped) when it cannot load it or
        the guest it gives does not answer."""
        self.token = saved.token
        self.transcript = protocol.Transcript(self.token, ready=True)
        folder = snapshot.monitor_dir()
        monitor = None
        started = False
        try:
            # the same initramfs bytes as the saving boot's, so QEMU's view of them matches
            fd = _initrd(lab, guest.boot_archive(saved.token, {}))
            self._spawn(qemu_command(qemu, lab.kernel, Path(f"/dev/fd/{fd}"))
                        + snapshot.monitor_args(folder) + snapshot.incoming_args(saved), fd)
            monitor = snapshot.Monitor(f"{folder}/qmp", min(deadline, time.monotonic() + 30))
            snapshot.wait_running(monitor, min(deadline, time.monotonic() + 30))
            # a restored shell answers within a second; a guest that does not in 10 s is
            # not the one saved (another token, a stuck console)
            started = self._answers(min(deadline, time.monotonic() + 10))
        except (OSError, ValueError):  # QEMU refused the file, or its monitor made no sense
            started = False
        finally:
            if monitor is not None:
                monitor.close()
            shutil.rmtree(folder, ignore_errors=True)
        if not started and hasattr(self, "_finalizer"):
            self._finalizer()  # QEMU stopped (or is killed): the guest boots instead
        return started

    def _answers(self, deadline: float) -> bool:
        """Whether the restored guest's shell runs a line (`true`, the guest's line 0, whose
        log snapshot is the start the first real line's kernel log is diffed from)."""
        number = self._next_line
        self._next_line += 1
        status = self._send(guest.line_program(number, "true"), deadline)
        if status == "ok":
            status = self._wait(lambda: self.transcript.finished(number), deadline)
        if status != "ok":
            return False
        _, self._log = protocol.command_result("true", self.transcript.reports.pop(number), [])
        return True

    # ------------------------------------------------------------------ running lines
    def run(self, lines: list[str], files: dict[str, bytes] | None = None,
            timeout: float = 120.0) -> list[CommandResult]:
        """Send `files` (guest name -> bytes), then run `lines` one by one; one CommandResult
        per line. A guest that fails on the way raises GuestError with the finished ones."""
        if not self.alive:
            raise GuestError("the guest is stopped")
        try:
            programs = [guest.line_program(0, line) for line in lines]  # validate first
            receives = [guest.receive_program(0, name, 0) for name in files or {}]
        except ValueError as err:
            raise KcourseError(str(err)) from None
        del programs, receives
        deadline = time.monotonic() + timeout
        for name, data in (files or {}).items():
            status = self._put(name, data, deadline)
            if status != "ok":
                raise self._failure(status, timeout, f"while copying {name} into the guest")
        results: list[CommandResult] = []
        for line in lines:
            number = self._next_line
            self._next_line += 1
            status = self._send(guest.line_program(number, line), deadline)
            if status == "ok":
                status = self._wait(lambda n=number: self.transcript.finished(n), deadline)
            if status != "ok":
                where = f"while running line {len(results) + 1}: {line}"
                raise self._failure(status, timeout, where, results)
            report = self.transcript.reports.pop(number)
            result, self._log = protocol.command_result(line, report, self._log)
            results.append(result)
        del self.transcript.noise[:-NOISE_KEPT]
        return results

    def _put(self, name: str, data: bytes, deadline: float) -> str:
        number = self._next_file
        self._next_file += 1
        # The console carries about 65 KB/s; a .ko with its debug info packs to a third with
        # gzip, and the guest unpacks it to the same bytes (benchmarks/lab_live.py)
        packed = gzip.compress(data, 6, mtime=0) if len(data) > PACK_ABOVE else data
        gzipped = len(packed) < len(data)
        data = packed if gzipped else data
        status = self._send(guest.receive_program(number, name, len(data), gzipped), deadline)
        if status == "ok":
            status = self._wait(lambda: f"RECV:{number}" in self.transcript.marks, deadline)
        if status == "ok":
            status = self._send(data, deadline)
        if status == "ok":
            status = self._wait(lambda: f"GOT:{number}" in self.transcript.marks, deadline)
        self.transcript.marks.clear()
        return status

    def close(self) -> None:
        """Stop the guest now (QEMU killed); a closed guest never runs anything again."""
        self.alive = False
        self._finalizer()

    def __enter__(self) -> Guest:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ the console
    def _feed(self, chunk: bytes) -> None:
        *lines, self._partial = (self._partial + chunk).split(b"\n")
        for raw in lines:
            self.transcript.feed(protocol.clean(raw.decode("utf-8", errors="replace")))

    def _read(self) -> bool:
        """Feed what the console has; False at its end (QEMU exited)."""
        try:
            chunk = os.read(self._proc.stdout.fileno(), 1 << 16)
        except OSError:
            chunk = b""
        if not chunk:
            if self._partial:
                self._feed(b"\n")
            return False
        self._feed(chunk)
        return True

    def _wait(self, done: Callable[[], bool], deadline: float) -> str:
        """Read until done(): 'ok', or 'eof' (QEMU exited), or 'timeout'."""
        out = self._proc.stdout.fileno()
        while not done():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "timeout"
            readable, _, _ = select.select([out], [], [], remaining)
            if readable and not self._read():
                return "eof"
        return "ok"

    def _send(self, data: bytes, deadline: float) -> str:
        """Write to the console, reading it meanwhile (so neither side blocks the other)."""
        out, into = self._proc.stdout.fileno(), self._proc.stdin.fileno()
        view = memoryview(data)
        while view:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "timeout"
            readable, writable, _ = select.select([out], [into], [], remaining)
            if readable and not self._read():
                return "eof"
            if writable:
                try:
                    view = view[os.write(into, view):]
                except BlockingIOError:
                    pass
                except (BrokenPipeError, OSError):
                    return "eof"
        return "ok"

    # ------------------------------------------------------------------ failures
    def _failure(self, status: str, timeout: float, where: str = "",
                 results: list[CommandResult] | None = None) -> GuestError:
        """Stop the guest and say, in one line, what happened and where."""
        self.close()
        noise = self.transcript.noise
        if status == "timeout":
            what = f"did not answer within {timeout:g} s"
        else:
            panic = next((x for x in reversed(noise) if "Kernel panic" in x), None)
            if panic is not None:
                what = f"panicked ({protocol.strip_timestamp(panic).strip()})"
            elif self.transcript.ready:
                what = "stopped: the shell exited"
            else:
                what = "stopped"
        if not self.transcript.ready:
            tail = [x for x in noise if x.strip()][-1:]
            where = "before the shell started" + (f": {tail[0][:120]}" if tail else "")
        return GuestError(f"the guest {what} {where}".rstrip(), results, noise[-40:])
