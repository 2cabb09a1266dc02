"""The printk ring buffer: levels, continuation lines and a seeded logical clock.

Mirrors kernel/printk/printk.c (6.1) vprintk_store:
- a message may start with KERN_<LEVEL> (include/linux/kern_levels.h: "\\001" + digit);
  without one it gets default_message_loglevel (CONFIG_MESSAGE_LOGLEVEL_DEFAULT=4 in Debian);
- a trailing "\\n" is stripped and marks the record final (LOG_NEWLINE); a record without
  one stays open: a following KERN_CONT (pr_cont) message is appended to it, any other
  message finalizes it first. Readers (dmesg) only see finalized records, so an
  unterminated line shows up when the next printk happens;
- each record carries the local_clock() time; here a logical clock that only moves when
  the kernel does something, from a seeded start, so runs are reproducible.
dmesg prints "[%5lu.%06lu] %s" (util-linux dmesg, the kernel's own console format too).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

KERN_SOH = "\001"
LEVELS = ("KERN_EMERG", "KERN_ALERT", "KERN_CRIT", "KERN_ERR", "KERN_WARNING", "KERN_NOTICE",
          "KERN_INFO", "KERN_DEBUG")
KERN_EMERG, KERN_ALERT, KERN_CRIT, KERN_ERR, KERN_WARNING, KERN_NOTICE, KERN_INFO, \
    KERN_DEBUG = (KERN_SOH + str(i) for i in range(8))
KERN_CONT = KERN_SOH + "c"
KERN_DEFAULT = ""
DEFAULT_MESSAGE_LOGLEVEL = 4  # CONFIG_MESSAGE_LOGLEVEL_DEFAULT (Debian 12 .config)
DEFAULT_CONSOLE_LOGLEVEL = 7  # CONFIG_CONSOLE_LOGLEVEL_DEFAULT (Debian 12 .config)
LOG_LINE_MAX = 1024 - 32  # kernel/printk/printk.c: PRINTKRB_RECORD_MAX - PREFIX_MAX


@dataclass(frozen=True)
class LogRecord:
    seq: int
    level: int
    ts_usec: int
    text: str

    def dmesg(self) -> str:
        """util-linux dmesg: the timestamp, the text; the lines after the first of a record
        holding newlines are indented under the first's text (dmesg.c ctl->indent)."""
        prefix = f"[{self.ts_usec // 1_000_000:5d}.{self.ts_usec % 1_000_000:06d}] "
        first, *rest = self.text.split("\n")
        indent = " " * len(prefix)  # an empty line stays empty (a record ending in "\n")
        return prefix + "\n".join([first] + [indent + line if line else line for line in rest])


class Clock:
    """local_clock() in microseconds: seeded start, advanced by the kernel's own actions."""

    def __init__(self, seed: int = 0):
        self._rng = random.Random(f"clock:{seed}")
        self.usec = self._rng.randint(4_000_000, 12_000_000)  # some seconds after boot
        self.watchers: list = []  # called with the new time whenever it moves (jiffies)

    def tick(self, lo: int = 3, hi: int = 40) -> int:
        return self.advance(self._rng.randint(lo, hi))

    def advance(self, usec: int) -> int:
        """Time a delay in kernel code takes (udelay, msleep): exactly `usec`."""
        self.usec += max(0, int(usec))
        for watch in self.watchers:
            watch(self.usec)
        return self.usec

    def pause(self, lo_usec: int = 200_000, hi_usec: int = 3_000_000) -> int:
        """How long a human takes to type the next command (not yet passed: see sleep)."""
        return self._rng.randint(lo_usec, hi_usec)

    def sleep(self, lo_usec: int = 200_000, hi_usec: int = 3_000_000) -> int:
        """Time passing between two commands (a human typing)."""
        return self.advance(self.pause(lo_usec, hi_usec))


def split_prefix(text: str) -> tuple[int | None, bool, str]:
    """printk_parse_prefix: (level or None, is KERN_CONT, text without the prefixes)."""
    level, cont = None, False
    while len(text) >= 2 and text[0] == KERN_SOH and text[1] in "01234567c":
        if text[1] == "c":
            cont = True
        elif level is None:
            level = int(text[1])
        text = text[2:]
    return level, cont, text


class LogBuffer:
    """The ring buffer: finalized records (what dmesg reads) plus at most one open record."""

    def __init__(self, clock: Clock, capacity: int = 1 << 17):
        self.clock = clock
        self.capacity = capacity  # CONFIG_LOG_BUF_SHIFT=17: 128 KiB of text
        self.console_loglevel = DEFAULT_CONSOLE_LOGLEVEL
        self.default_message_loglevel = DEFAULT_MESSAGE_LOGLEVEL
        self.records: list[LogRecord] = []
        self._open: LogRecord | None = None
        self._seq = 0
        self._once: set[str] = set()
        self._bytes = 0  # text held by `records`, counted as _trim counts it

    # ---------------------------------------------------------------- writing
    def printk(self, message: str, level: int | None = None) -> None:
        """printk(fmt-already-formatted). `level` overrides a missing KERN_ prefix."""
        plevel, cont, text = split_prefix(message)
        if plevel is None:
            plevel = level
        final = text.endswith("\n")
        if final:
            text = text[:-1]
        text = text[:LOG_LINE_MAX]
        if cont and self._open is not None:
            rec = self._open
            self._open = LogRecord(rec.seq, rec.level, rec.ts_usec, rec.text + text)
            if final:
                self._finalize()
            return
        self._finalize()
        if plevel is None:
            plevel = self.default_message_loglevel
        rec = LogRecord(self._seq, plevel & 7, self.clock.tick(), text)
        self._seq += 1
        self._open = rec
        if final:
            self._finalize()

    def once(self, key: str, message: str, level: int | None = None) -> None:
        """pr_*_once: print only the first time this call site fires."""
        if key in self._once:
            return
        self._once.add(key)
        self.printk(message, level)

    def _finalize(self) -> None:
        if self._open is not None:
            self.records.append(self._open)
            self._bytes += len(self._open.text) + 16
            self._open = None
            self._trim()

    def _trim(self) -> None:
        """The oldest records go once the text outgrows the buffer (a running count: summing
        every record at each printk made a long session quadratic)."""
        while self._bytes > self.capacity and self.records:
            self._bytes -= len(self.records.pop(0).text) + 16

    # ---------------------------------------------------------------- reading
    def clear(self) -> None:
        """dmesg -C / syslog(SYSLOG_ACTION_CLEAR): forget finalized records."""
        self.records.clear()
        self._bytes = 0

    def lines(self) -> list[str]:
        return [r.dmesg() for r in self.records]

    def texts(self) -> list[str]:
        return [r.text for r in self.records]

    def snapshot(self) -> tuple:
        return tuple((r.seq, r.level, r.text) for r in self.records), \
            (self._open.text if self._open else None)
