"""A real-kernel shell that stays up between calls, for `%%kshell --real` and the panels.

RealShell keeps one live guest (kcourse.lab.live.Guest): booted on first use, or in the
background by start(), and kept up, so what one cell loads the next one sees, as in the
simulator. Each call sends only its own lines. A guest that fails (a panic, a hang, a shell
that exits) is reported in one line by GuestError and dropped; the next call boots a fresh
one and take_notice() says so once. reset() is a reboot; close() stops the guest.

    shell = RealShell()
    shell.run_script("insmod hello/hello.ko")     # -> [CommandResult]; boots the guest
    shell.run_script("lsmod")                     # the same kernel: hello is listed

Same method as kcourse.shell.Shell.run_script(text) -> list[CommandResult].
"""

from __future__ import annotations

from concurrent.futures import Future
from pathlib import Path

from kcourse.backend import CommandResult
from kcourse.lab.live import Guest, GuestError
from kcourse.lab.runner import RealKernel, host_files, read_files, script_lines


class RealShell:
    """Shell-like front of one live guest of `kernel` (its lab, timeout and command line)."""

    def __init__(self, kernel: RealKernel | None = None):
        self.kernel = kernel or RealKernel()
        self._guest: Guest | None = None
        self._booting: Future | None = None
        self._lost: str | None = None  # why the last guest stopped
        self._notice: str | None = None

    @property
    def guest(self) -> Guest | None:
        """The live guest, if one is up (None before the first call, and after a failure)."""
        return self._guest if self._guest is not None and self._guest.alive else None

    def start(self) -> None:
        """Boot the guest in the background now, so the first call finds it up."""
        if self.guest is None and self._booting is None:
            from kcourse.lab.background import BOOTS

            self._booting = BOOTS.submit(self.kernel.boot)

    def _live(self) -> Guest:
        if self._booting is not None:
            booting, self._booting = self._booting, None
            self._guest = booting.result()  # a failed boot raises here; the next call retries
        if self.guest is None:
            self._guest = self.kernel.boot()
        if self._lost is not None:
            self._notice = f"a fresh guest was booted (the last one {self._lost})"
            self._lost = None
        return self._guest

    def take_notice(self) -> str | None:
        """Once, after a guest was replaced: one line saying so (the magic prints it)."""
        notice, self._notice = self._notice, None
        return notice

    def run_script(self, text: str | list[str],
                   files: dict[str, Path] | None = None) -> list[CommandResult]:
        lines = script_lines(text) if isinstance(text, str) else list(text)
        if not lines and not files:
            return []
        payload = host_files(lines)
        payload.update(files or {})
        blobs = read_files(payload)
        guest = self._live()
        try:
            return guest.run(lines, blobs, timeout=self.kernel.timeout)
        except GuestError as err:
            self._guest = None
            self._lost = str(err).removeprefix("the guest ")
            raise GuestError(f"{err}; the next cell starts a fresh guest", err.results,
                             err.console) from None

    def run(self, line: str) -> CommandResult:
        return self.run_script([line])[0]

    def reset(self) -> None:
        """A reboot: the guest is stopped, the next call boots a fresh one."""
        if self._booting is not None:
            booting, self._booting = self._booting, None
            try:
                booting.result().close()
            except Exception:  # a boot that failed has nothing to stop
                pass
        if self._guest is not None:
            self._guest.close()
            self._guest = None
        self._lost = self._notice = None

    close = reset
