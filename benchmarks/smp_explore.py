"""Two CPUs through racy's and locked's own write(): exhaustive exploration and sampling.

Figures (issue 14): the exhaustive exploration of two CPUs through racy's write path
(target: under 1 s), and how long 10,000 random schedules of a longer critical section take
(two writers each calling locked's write() 3 times: 66 steps a CPU). Each figure is the best
of --repeat runs, in a fresh kernel each.
Run: .venv/bin/python benchmarks/smp_explore.py [--repeat R] [--samples N]
"""

from __future__ import annotations

import argparse
import time

TARGET_EXHAUSTIVE_S = 1.0


def kernel_with(*modules: str):
    from kcourse.shell import Shell

    sh = Shell()
    for name in modules:
        assert sh.run(f"insmod {name}/{name}.ko").rc == 0
    return sh.kernel


def verdict(seconds: float) -> str:
    """The verdict line: ok, or which target the run missed.

    >>> verdict(0.4).startswith("ok")
    True
    >>> "racy's exhaustive exploration within 1.0 s" in verdict(1.5)
    True
    """
    if seconds < TARGET_EXHAUSTIVE_S:
        return f"ok: racy's exhaustive exploration {seconds:.2f} s (target {TARGET_EXHAUSTIVE_S} s)"
    return (f"over target: racy's exhaustive exploration within {TARGET_EXHAUSTIVE_S} s "
            f"took {seconds:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--samples", type=int, default=10_000)
    args = parser.parse_args()
    from kcourse.machine import smp

    best = None
    for _ in range(args.repeat):
        kernel = kernel_with("racy")
        started = time.perf_counter()
        with smp.Race(kernel, "/dev/racy") as race:
            explored = race.explore()
        seconds = time.perf_counter() - started
        best = seconds if best is None else min(best, seconds)
    print(f"racy, 2 CPUs, exhaustive: {explored.summary('2' + chr(10))}")
    print(f"  best of {args.repeat}: {best:.3f} s (the explorer's own figure: "
          f"{explored.seconds:.3f} s)")

    kernel = kernel_with("locked")
    started = time.perf_counter()
    with smp.Race(kernel, "/dev/locked", calls=3) as race:
        sampled = race.sample(args.samples, seed=0)
        steps = len(race.solo(0))
    seconds = time.perf_counter() - started
    print(f"locked, 2 CPUs x 3 writes ({steps} steps a CPU), {args.samples:,} random "
          f"schedules: {seconds:.1f} s ({1e3 * seconds / args.samples:.2f} ms a schedule); "
          f"outcomes {sampled.outcomes}")
    print(verdict(best))


if __name__ == "__main__":
    main()
