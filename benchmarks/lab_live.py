"""Live real-kernel guest benchmark: first boot, and commands in a warm guest.

Prints, for the prepared lab (kcourse.lab.prepare; cached under ~/.cache/kcourse/lab/):
- first boot: QEMU start to the guest's shell ready (kcourse.lab.live.Guest), median of N
  boots (default 3) with snapshots off (KCOURSE_LAB_SNAPSHOT=0); target about 3-4 s; and the
  CPU seconds QEMU used for it, which a busy host does not inflate as much as the wall-clock
  time;
- a fresh guest started from the saved boot (kcourse.lab.snapshot): the boot that saves it
  (once per QEMU/kernel/protocol), then N starts from it;
- warm latency, host call to result, median of M calls (default 10) on one guest: `lsmod`
  (target <= 0.5 s), `true` (the protocol's own cost per line), and an insmod + rmmod pair;
- a course-sized .ko (hello.ko, about 7 KB) and a 100 KB file sent to the running guest.

Wall-clock seconds; the machine's load shows in them (`uptime` is printed first).
Run: .venv/bin/python benchmarks/lab_live.py [--boots N] [--calls M]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from kcourse.lab.prepare import prepare
from kcourse.lab.runner import RealKernel
from kcourse.paths import course_module


def line(label: str, times: list[float], target: str = "") -> str:
    shown = ", ".join(f"{t:.2f}" for t in times)
    note = f"   target {target}" if target else ""
    return f"{label:<36} median {statistics.median(times):5.2f} s{note}   ({shown})"


def qemu_cpu_seconds(pid: int) -> float:
    """User + system CPU time of the guest's QEMU so far (proc(5): /proc/PID/stat 14, 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def calls(guest, lines: list[str], count: int, files=None) -> list[float]:
    times = []
    for _ in range(count):
        start = time.perf_counter()
        guest.run(lines, files)
        times.append(time.perf_counter() - start)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--boots", type=int, default=3)
    parser.add_argument("--calls", type=int, default=10)
    args = parser.parse_args()

    print("load average                 " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    lab = prepare(progress=lambda step: print(f"  {step}"))
    kernel = RealKernel(lab=lab)
    boots, cpu = [], []
    os.environ["KCOURSE_LAB_SNAPSHOT"] = "0"
    for _ in range(args.boots):
        with kernel.boot() as guest:
            boots.append(guest.boot_seconds)
            cpu.append(qemu_cpu_seconds(guest.pid))
    os.environ["KCOURSE_LAB_SNAPSHOT"] = "1"
    print(line("first boot (QEMU start to shell)", boots, "about 3-4 s"))
    print(line("  QEMU CPU time for it", cpu))
    for old in Path(lab.kernel).parent.glob("snapshot-*.state"):
        old.unlink()  # so that the next boot saves afresh
    with kernel.boot() as guest:
        print(line("boot that saves the snapshot", [guest.boot_seconds]))
    starts = []
    for _ in range(args.boots):
        with kernel.boot() as guest:
            assert guest.restored
            starts.append(guest.boot_seconds)
    print(line("fresh guest from the snapshot", starts))

    hello = course_module("hello").read_bytes()
    blob = os.urandom(100_000)
    with kernel.boot() as guest:
        guest.run(["lsmod"])  # the first exec of each program warms the guest's page cache
        print(line("warm `lsmod`", calls(guest, ["lsmod"], args.calls), "<= 0.5 s"))
        print(line("warm `true`", calls(guest, ["true"], args.calls)))
        pair = ["insmod hello/hello.ko", "rmmod hello"]
        print(line("warm insmod + rmmod hello", calls(guest, pair, args.calls)))
        sent = calls(guest, ["true"], 3, {"/tmp/hello.ko": hello})
        print(line(f"send hello.ko ({len(hello) // 1024} KiB) + `true`", sent))
        sent = calls(guest, ["true"], 3, {"/tmp/blob": blob})
        rate = len(blob) / statistics.median(sent) / 1024
        print(line(f"send 100 KB + `true` ({rate:.0f} KiB/s)", sent))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
