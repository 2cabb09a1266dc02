"""Read the guest's serial console back into CommandResults (see kcourse.lab.guest).

Pure text processing, so it is tested without QEMU: clean the console text (ANSI escapes,
`\\r`), find the runner's marker lines, decode the base64 blocks, and work out which kernel
log lines each command caused by comparing successive `dmesg` snapshots.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kcourse.backend import CommandResult
from kcourse.lab.guest import MARK, decode

# ECMA-48: CSI sequences (ESC [ ... final), OSC strings (ESC ] ... BEL or ST), and the
# two-byte escapes such as ESC c (reset), which SeaBIOS and the kernel's console send.
ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[ -/]*[0-~])")
# util-linux dmesg's default line: "[    6.663697] hello: ..." (printk.c: print_time
# formats the same "[%5lu.%06lu]" for the syslog interface busybox reads).
BASE64_LINE = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")
TIMESTAMP = re.compile(r"^\[\s*(\d+)\.(\d{6})\] ?")


def clean(console: str) -> str:
    """Console text without ANSI escapes and carriage returns."""
    return ANSI.sub("", console).replace("\r", "")


def strip_timestamp(line: str) -> str:
    return TIMESTAMP.sub("", line, count=1)


def _stamp(line: str) -> tuple[int, int] | None:
    match = TIMESTAMP.match(line)
    return (int(match.group(1)), int(match.group(2))) if match else None


def new_log_lines(before: list[str], after: list[str]) -> list[str]:
    """The kernel log lines in `after` that were not in `before` (both full dmesg outputs).

    Normally `after` extends `before`. If the log was cleared in between (`dmesg -c`), the
    lines newer than the last one seen before are the new ones (timestamps only grow).
    """
    if after[: len(before)] == before:
        return after[len(before) :]
    last = next((s for s in map(_stamp, reversed(before)) if s is not None), None)
    if last is None:
        return after
    fresh, keep = [], False
    for line in after:
        stamp = _stamp(line)
        if stamp is not None:
            keep = stamp > last
        if keep:
            fresh.append(line)
    return fresh


@dataclass
class Report:
    """What the runner printed for one line, before the log snapshots are diffed."""

    index: int
    rc: int | None = None
    blocks: dict[str, list[str]] = field(default_factory=dict)
    ended: bool = False


@dataclass
class Transcript:
    """Everything parsed from one guest's console so far, fed line by line as it arrives."""

    token: str = ""
    ready: bool = False
    started: list[int] = field(default_factory=list)  # BEGIN seen, in order
    reports: dict[int, Report] = field(default_factory=dict)
    marks: list[str] = field(default_factory=list)  # other markers (RECV:k, GOT:k), in order
    noise: list[str] = field(default_factory=list)  # console lines outside any block
    _block: list[str] | None = None
    _report: Report | None = None

    def last_started(self) -> int | None:
        return self.started[-1] if self.started else None

    def feed(self, line: str) -> None:
        """One cleaned console line (no newline)."""
        prefix = f"{MARK}:{self.token}:"
        at = line.find(prefix)
        if at > 0:  # a marker after other console text (bash's first prompt, a kernel line)
            self.noise.append(line[:at])
            line = line[at:]
        if not line.startswith(prefix):
            if self._block is not None and BASE64_LINE.match(line):
                self._block.append(line)
            elif line.strip():
                self.noise.append(line)
            return
        word = line[len(prefix) :].strip()
        kind, _, rest = word.partition(":")
        self._block = None
        if kind == "READY":
            self.ready = True
        elif kind == "BEGIN":
            self.started.append(int(rest))
        elif kind == "RC":
            index, _, rc = rest.partition(":")
            self._report = self.reports.setdefault(int(index), Report(int(index)))
            self._report.rc = int(rc)
        elif kind in ("OUT", "ERR", "LOG") and self._report is not None:
            self._block = self._report.blocks.setdefault(kind, [])
        elif kind == "END" and self._report is not None:
            self._report.ended = True
        else:
            self.marks.append(word)

    def finished(self, index: int) -> bool:
        report = self.reports.get(index)
        return report is not None and report.ended and report.rc is not None


def parse(console: str, token: str) -> Transcript:
    """Parse the cleaned console text of a run whose markers carry `token`."""
    result = Transcript(token)
    for line in clean(console).split("\n"):
        result.feed(line)
    return result


def command_result(line: str, report: Report, previous_log: list[str]
                   ) -> tuple[CommandResult, list[str]]:
    """The CommandResult of a finished report, and the log snapshot it ends with (the
    `previous_log` of the next one)."""
    log = decode(report.blocks.get("LOG", [])).splitlines()
    caused = [strip_timestamp(x) for x in new_log_lines(previous_log, log)]
    result = CommandResult(
        line=line,
        stdout=decode(report.blocks.get("OUT", [])),
        stderr=decode(report.blocks.get("ERR", [])),
        rc=report.rc,
        dmesg=tuple(caused),
    )
    return result, log


def results(lines: list[str], transcript: Transcript) -> list[CommandResult]:
    """One CommandResult per line that reported in full; stops at the first that did not."""
    out: list[CommandResult] = []
    previous_log: list[str] = []
    for index, line in enumerate(lines):
        if not transcript.finished(index):
            break
        result, previous_log = command_result(line, transcript.reports[index], previous_log)
        out.append(result)
    return out
