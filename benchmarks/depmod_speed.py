"""How fast is `kcourse depmod -n` next to kmod's `depmod -n` over Debian's whole module tree?

Both tools run over the module tree of Debian's linux-image-6.1.0-NN-amd64 package (4,000+
modules, fetched once into the XDG cache by kcourse.debian) as `depmod -n -b BASE RELEASE`:
N rounds, each running kmod then kcourse (the order swaps every round, so neither always
runs on a warmer cache or a quieter machine), one process per run, nothing cached between
runs by either tool. Prints the median wall-clock and CPU (user + system) seconds of each,
the ratio kcourse / kmod of the medians and of each round's pair, whether every output was
byte-identical, and a verdict against the target (wall ratio <= 1.0, issue 15).

kmod's depmod is single-threaded; `kcourse depmod` reads the modules with one process per
CPU (at most 4) unless told `-j N`: --jobs passes that on, and the CPU figures show what
the extra processes cost. kcourse is byte-compiled first, as an installed package is.

    .venv/bin/python benchmarks/depmod_speed.py [--rounds N] [--jobs N] [--base DIR]
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET = 1.0


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd: list[str], env: dict | None = None) -> tuple[float, float, bytes, bytes, int]:
    """(wall s, cpu s, stdout, stderr, rc) of one run of cmd."""
    cpu0, wall0 = children_cpu(), time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, check=False, env=env)
    return (time.perf_counter() - wall0, children_cpu() - cpu0, proc.stdout, proc.stderr,
            proc.returncode)


def verdict(ratio: float, identical: bool) -> str:
    """The line that says whether the target was met.

    >>> verdict(0.93, True)
    'ok: kcourse takes 0.93x kmod (target <= 1.0), output identical'
    >>> verdict(1.2, True)
    'over target: kcourse takes 1.20x kmod (target <= 1.0), output identical'
    >>> verdict(0.5, False)
    'FAILED: the outputs differ'
    """
    if not identical:
        return "FAILED: the outputs differ"
    head = "ok" if ratio <= TARGET else "over target"
    return f"{head}: kcourse takes {ratio:.2f}x kmod (target <= {TARGET}), output identical"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--jobs", type=int, help="kcourse depmod -j JOBS (default: its own)")
    parser.add_argument("--base", help="a tree BASE/lib/modules/RELEASE (default: Debian's)")
    args = parser.parse_args()

    kmod = shutil.which("depmod") or "/usr/sbin/depmod"
    if not os.path.exists(kmod):
        print("kmod's depmod is not installed", file=sys.stderr)
        return 2
    if args.base:
        base = Path(args.base)
        release = next((base / "lib" / "modules").iterdir()).name
    else:
        from kcourse.debian import image_modules_dir

        tree = image_modules_dir("amd64")
        base, release = tree.parents[2], tree.name
    from kcourse.build.depmod import default_jobs

    repo = Path(__file__).resolve().parent.parent
    compileall.compile_dir(str(repo / "kcourse"), quiet=1)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(repo), *filter(None, [os.environ.get("PYTHONPATH")])]))
    tools = {"kmod": [kmod, "-n", "-b", str(base), release],
             "kcourse": [sys.executable, "-m", "kcourse.cli", "depmod", "-n", "-b", str(base),
                         *(["-j", str(args.jobs)] if args.jobs else []), release]}
    count = sum(1 for p in (base / "lib" / "modules" / release).rglob("*.ko*"))
    jobs = args.jobs or default_jobs()
    print(f"tree: {base}/lib/modules/{release} ({count} module files); "
          f"{args.rounds} paired rounds, alternating which tool goes first; kmod 1 process, "
          f"kcourse {jobs} process{'es' if jobs > 1 else ''} ({os.cpu_count()} CPUs)")

    runs: dict[str, list[tuple[float, float]]] = {"kmod": [], "kcourse": []}
    outputs: dict[str, set[tuple[bytes, int]]] = {"kmod": set(), "kcourse": set()}
    pair_ratios = []
    for round_no in range(args.rounds):
        order = ("kmod", "kcourse") if round_no % 2 == 0 else ("kcourse", "kmod")
        walls = {}
        for name in order:
            wall, cpu, out, _err, rc = timed(tools[name], env)
            runs[name].append((wall, cpu))
            outputs[name].add((out, rc))
            walls[name] = wall
        pair_ratios.append(walls["kcourse"] / walls["kmod"])
    medians = {name: (statistics.median(w for w, _ in rs), statistics.median(c for _, c in rs))
               for name, rs in runs.items()}
    for name, (wall, cpu) in medians.items():
        print(f"{name:8s} wall {wall:.3f} s   cpu {cpu:.3f} s   (median of {args.rounds})")
    ratio = medians["kcourse"][0] / medians["kmod"][0]
    print(f"ratio kcourse/kmod: wall {ratio:.2f}   cpu "
          f"{medians['kcourse'][1] / medians['kmod'][1]:.2f}   per round: median "
          f"{statistics.median(pair_ratios):.2f}, range {min(pair_ratios):.2f}-"
          f"{max(pair_ratios):.2f}")
    kmod_out, ours = outputs["kmod"], outputs["kcourse"]
    identical = len(kmod_out) == 1 and kmod_out == ours
    out = next(iter(kmod_out))[0]
    print(f"output: {'identical' if identical else 'DIFFERENT'} ({len(out)} bytes, "
          f"{out.count(b'.ko:')} modules in modules.dep, every run)")
    if not identical:
        first, mine = next(iter(kmod_out))[0], next(iter(ours))[0]
        for i, (a, b) in enumerate(zip(first.splitlines(), mine.splitlines(), strict=False)):
            if a != b:
                print(f"first difference at line {i + 1}:\n  kmod:    {a!r}\n  kcourse: {b!r}")
                break
    print(verdict(ratio, identical))
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
