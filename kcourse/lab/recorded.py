"""Real-kernel runs that lessons 01 and 02 show where the simulator cannot.

Some facts are best shown on the real thing: the whole of an oops, /proc/kallsyms with every
symbol of the kernel and its addresses hidden by kptr_restrict, the task a module's code runs
in. Each run is a script, data/real/NAME.sh, whose transcript from Debian's kernel booted
under QEMU (kcourse.lab.RealKernel, a fresh boot, `kcourse sim --real --transcript` form) is
data/real/NAME.expected, normalised as tests/scenarios/README.md says (addresses 0xADDR,
dmesg timestamps [TIME]). The lesson prints the recording, so it runs without QEMU;
tests/test_lesson_tools.py boots the kernel again and compares, with `masks` for the values
that change from boot to boot (kallsyms addresses, an oops's registers).

`python -m kcourse.lab.recorded [NAME...]` re-records them (QEMU needed).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from kcourse.backend import CommandResult, format_transcript
from kcourse.errors import KcourseError
from kcourse.paths import data_dir

HEADER = "#| "


@dataclass(frozen=True)
class Recording:
    name: str
    why: str                                  # the first header line: what it shows
    experiments: tuple[str, ...] = ()         # data/experiments modules the guest needs
    masks: tuple[tuple[str, str], ...] = ()   # extra (regex, replacement) for the comparison
    drop: str | None = None                   # regex of lines left out of the comparison
    panics: bool = False                      # the script's last line panics the guest

    @property
    def script_path(self) -> Path:
        return real_dir() / f"{self.name}.sh"

    @property
    def expected_path(self) -> Path:
        return real_dir() / f"{self.name}.expected"


# An address printed by %px in /proc/kallsyms (16 hex digits) that is not hidden (all zeros).
_KALLSYMS_ADDRESS = (r"(?m)^(?!0{16})[0-9a-f]{16}(?= )", "ADDRESS")

# An oops holds the run's register values, PIDs and hashed pointers (%p).
# Page-table entries hold physical addresses, as short as 7 hex digits on some boots.
# a register that happens to read 00000000xxxxxxxx was taken for a hashed pointer by
# compare.normalise (PTRHASH): in an oops's register dump it is one more value that changes
_OOPS_MASKS = ((r"(?<=P[GUM4]D |PTE )[0-9a-f]+\b", "X"), (r"\b[0-9a-f]{8,16}\b", "X"),
               (r"\bPTRHASH\b", "X"),
               (r"0x[0-9a-f]{6,}", "0xX"), (r"PID: \d+", "PID: N"),
               (r"\[\d+\] exited", "[N] exited"))

RECORDINGS = {r.name: r for r in (
    Recording("whoami", "the task a module's code runs in: whoever called it",
              experiments=("whoami",)),
    Recording("kallsyms", "/proc/kallsyms lists every symbol; the loader uses only exports; "
              "addresses hidden by kptr_restrict", experiments=("lookup_forced",),
              masks=(_KALLSYMS_ADDRESS, (r"(?m)^\d{5,6}$", "COUNT"))),
    Recording("oops", "the whole oops of baduser.ko, as the real kernel logs it",
              masks=_OOPS_MASKS,
              drop=r"^\[TIME\]  \? "),      # "? func+off" entries: guesses from stack garbage
    Recording("bigframe", "a 20000-byte stack frame (data/experiments/bigframe) skips the guard "
              "page: a double fault, then a panic", experiments=("bigframe",), panics=True,
              masks=_OOPS_MASKS, drop=r"^\[TIME\]  \? "),
    Recording("stackhog", "a 16000-byte stack frame (data/modules/stackhog) lands in the guard "
              "page", panics=True, masks=_OOPS_MASKS, drop=r"^\[TIME\]  \? "),
    Recording("initoops", "an oops in init leaves the module Loading, its init reference held",
              experiments=("initoops",), masks=_OOPS_MASKS, drop=r"^\[TIME\]  \? "),
    Recording("logs", "what dmesg shows: the kernel's ring buffer, not the daemons' logs",
              masks=((r"\[\s*\d+\.\d{6}\]", "[TIME]"),)),   # dmesg -x: after the prefix
)}


def real_dir() -> Path:
    return data_dir() / "real"


def get(name: str) -> Recording:
    try:
        return RECORDINGS[name]
    except KeyError:
        raise KcourseError(f"no recording named {name!r} (there are: "
                           f"{', '.join(RECORDINGS)})") from None


def script(name: str) -> str:
    return get(name).script_path.read_text()


def expected(name: str) -> str:
    """The recorded transcript, without its #| header."""
    text = get(name).expected_path.read_text()
    return "".join(line for line in text.splitlines(keepends=True)
                   if not line.startswith(HEADER.rstrip()))


def show(name: str, select=None) -> None:
    """Print the recording; `select(lines) -> lines` may pick a part of it."""
    lines = expected(name).splitlines()
    print("\n".join(select(lines) if select else lines))


def comparable(name: str, transcript: str) -> str:
    """The transcript with what changes from boot to boot masked, for comparing two runs."""
    from kcourse.lab.compare import normalise

    rec = get(name)
    text = normalise(transcript)
    if rec.drop:
        text = "".join(line for line in text.splitlines(keepends=True)
                       if not re.match(rec.drop, line))
    for pattern, replacement in rec.masks:
        text = re.sub(pattern, replacement, text)
    return text


def guest_files(name: str) -> dict[str, Path]:
    """The experiment modules the script loads, at NAME/NAME.ko under /root/modules."""
    from kcourse.build.experiments import get as experiment

    return {f"{e}/{e}.ko": experiment(e).ko for e in get(name).experiments}


def run(name: str) -> list[CommandResult]:
    """Boot Debian's kernel and run the recording's script (QEMU needed)."""
    from kcourse.lab import RealKernel

    return RealKernel().run_script(script(name), files=guest_files(name))


def stored(transcript: str) -> str:
    """A run as the .expected file keeps it: normalised, except that an address printed as
    zeros (hidden: kallsyms_show_value) stays zeros, since that is what the lesson shows."""
    from kcourse.lab.compare import normalise

    zero = "0x" + "0" * 16
    return normalise(transcript.replace(zero, "\0ZERO\0")).replace("\0ZERO\0", zero)


PANIC_NOTE = "(the guest panicked; its console from this line on:)\n"


def run_to_panic(name: str) -> str:
    """Boot, run a script whose last line panics the guest: the transcript of the lines
    before it, then that line and what the console showed from its start on (the live
    guest's console lines outside the protocol's blocks, kcourse.lab.protocol noise)."""
    from kcourse.lab import RealKernel
    from kcourse.lab.runner import GuestError, host_files, script_lines

    lines = script_lines(script(name))
    kernel = RealKernel()
    payload = host_files(lines)
    payload.update(guest_files(name))
    guest = kernel.boot(payload)
    try:
        done = guest.run(lines[:-1], timeout=kernel.timeout)
        mark = len(guest.transcript.noise)
        try:
            guest.run(lines[-1:], timeout=kernel.timeout)
        except GuestError:
            shown = "".join(f"{x}\n" for x in guest.transcript.noise[mark:]
                            if not x.startswith("@@KC:"))
            return format_transcript(done) + f"$ {lines[-1]}\n" + PANIC_NOTE + shown
    finally:
        guest.close()
    raise KcourseError(f"{name}: the guest did not panic")


def transcript(name: str) -> str:
    """A fresh real run of the recording, as text (QEMU needed)."""
    if get(name).panics:
        return run_to_panic(name)
    return format_transcript(run(name))


def record(name: str) -> None:
    rec = get(name)
    body = stored(transcript(name))
    header = (f"{HEADER}{name}.sh: {rec.why}\n"
              f"{HEADER}every line: real, recorded from Debian's kernel under QEMU -cpu max "
              "(kcourse.lab.recorded.record), normalised as tests/scenarios/README.md says.\n")
    rec.expected_path.write_text(header + body)


def main(argv: list[str]) -> int:
    try:
        for name in argv or list(RECORDINGS):
            record(name)
            print(f"recorded {name}", file=sys.stderr)
    except KcourseError as err:
        print(f"recorded: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
