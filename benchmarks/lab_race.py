"""Real-kernel race benchmark: two writers at once on /dev/racy and /dev/locked.

For each CPU count asked (default 2, then 1 as the control), boots one guest of Debian's kernel
(kcourse.lab.race.experiment) and prints, per module: N runs, W writes per writer, each run's
final count against the expected writers * W, the loss rate per run and over all runs, how many
runs fell short, and the time taken (the writers' own time per run, the guest's clock; the
boot; and the whole, host's clock). Expected: on two CPUs racy falls short in some runs and
locked never; on one CPU neither loses: the writers only take turns between write() calls.
Debian's kernel preempts voluntarily (CONFIG_PREEMPT_VOLUNTARY=y with PREEMPT_DYNAMIC:
kernel/sched/core.c sched_dynamic_update turns preempt_schedule and
irqentry_exit_cond_resched off), so neither the tick nor the preempt_enable() inside udelay's
spin (arch/x86/lib/delay.c delay_tsc) switches writers between racy_write's read and write.

Wall-clock seconds; the machine's load shows in them (`uptime` is printed first).
Run: .venv/bin/python benchmarks/lab_race.py [--runs N] [--writes W] [--writers K] [--cpus 2 1]
"""

from __future__ import annotations

import argparse
import os
import time

from kcourse.lab.prepare import prepare
from kcourse.lab.race import MODULES, experiment
from kcourse.lab.runner import RealKernel


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--writes", type=int, default=1000)
    parser.add_argument("--writers", type=int, default=2)
    parser.add_argument("--cpus", type=int, nargs="+", default=[2, 1])
    args = parser.parse_args()

    print("load average " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    kernel = RealKernel(lab=prepare(progress=lambda step: print(f"  {step}")), timeout=300)
    for cpus in args.cpus:
        start = time.monotonic()
        races = experiment(MODULES, args.writers, args.writes, args.runs, cpus, kernel)
        took = time.monotonic() - start
        print(f"\n== {cpus} CPU{'s' if cpus > 1 else ''}: N={args.runs} runs, "
              f"W={args.writes} writes x {args.writers} writers")
        for race in races.values():
            print(race.summary())
        boot = next(iter(races.values())).boot_seconds
        print(f"  boot {boot:.1f} s; boot and all runs {took:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
