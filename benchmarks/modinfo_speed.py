"""How fast is `kcourse modinfo` next to kmod's `modinfo` over Debian's whole module tree?

Runs both tools over every module of Debian's linux-image-6.1.0-NN-amd64 package (4,000+
files, fetched once into the XDG cache by kcourse.debian), each in one invocation (argv
batches only if the list would not fit ARG_MAX), several rounds alternating, and prints the
best wall-clock and CPU times, their ratio (kcourse / kmod; target <= 1.0) and whether the
outputs are byte-identical. kcourse is byte-compiled first, as an installed package is.

    .venv/bin/python benchmarks/modinfo_speed.py [--rounds N] [--limit N]
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ARG_BUDGET = 1_500_000  # bytes of argv per invocation (ARG_MAX is 2 MiB here)


def batches(files: list[str]) -> list[list[str]]:
    out, cur, size = [], [], 0
    for name in files:
        if cur and size + len(name) + 1 > ARG_BUDGET:
            out.append(cur)
            cur, size = [], 0
        cur.append(name)
        size += len(name) + 1
    return out + ([cur] if cur else [])


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(cmd: list[str], groups: list[list[str]]) -> tuple[float, float, bytes, bytes, int]:
    """(wall s, cpu s, stdout, stderr, worst rc) of running cmd over every argv batch."""
    out, err, rc = [], [], 0
    cpu0, wall0 = children_cpu(), time.perf_counter()
    for group in groups:
        proc = subprocess.run([*cmd, *group], capture_output=True, check=False)
        out.append(proc.stdout)
        err.append(proc.stderr)
        rc = max(rc, proc.returncode)
    return time.perf_counter() - wall0, children_cpu() - cpu0, b"".join(out), b"".join(err), rc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--limit", type=int, default=0, help="only the first N modules")
    args = parser.parse_args()

    kmod = shutil.which("modinfo") or "/usr/sbin/modinfo"
    if not os.path.exists(kmod):
        print("kmod's modinfo is not installed", file=sys.stderr)
        return 2
    from kcourse.debian import image_modules_dir

    tree = image_modules_dir("amd64")
    files = sorted(str(p) for p in tree.rglob("*.ko*") if p.is_file())
    if args.limit:
        files = files[: args.limit]
    repo = Path(__file__).resolve().parent.parent
    compileall.compile_dir(str(repo / "kcourse"), quiet=1)
    kcourse = [str(Path(sys.executable).with_name("kcourse")), "modinfo"]
    if not os.path.exists(kcourse[0]):
        kcourse = [sys.executable, "-m", "kcourse.cli", "modinfo"]
    groups = batches(files)
    print(f"modules: {len(files)} from {tree.name} ({len(groups)} invocation(s) per tool)")

    best = {"kmod": [1e9, 1e9], "kcourse": [1e9, 1e9]}
    outputs = {}
    for _ in range(args.rounds):
        for name, cmd in (("kmod", [kmod]), ("kcourse", kcourse)):
            wall, cpu, out, err, rc = run(cmd, groups)
            best[name][0] = min(best[name][0], wall)
            best[name][1] = min(best[name][1], cpu)
            outputs[name] = (out, err, rc)
    for name in ("kmod", "kcourse"):
        wall, cpu = best[name]
        print(f"{name:8s} wall {wall:.3f} s   cpu {cpu:.3f} s   (best of {args.rounds})")
    print(f"ratio kcourse/kmod: wall {best['kcourse'][0] / best['kmod'][0]:.2f}   "
          f"cpu {best['kcourse'][1] / best['kmod'][1]:.2f}   (target <= 1.0)")
    same = outputs["kmod"] == outputs["kcourse"]
    out_k, out_c = outputs["kmod"][0], outputs["kcourse"][0]
    print(f"output: {'identical' if same else 'DIFFERENT'} "
          f"({len(out_k)} bytes stdout, rc {outputs['kmod'][2]} vs {outputs['kcourse'][2]})")
    if not same:
        for i, (a, b) in enumerate(zip(out_k.splitlines(), out_c.splitlines(), strict=False)):
            if a != b:
                print(f"first difference at line {i + 1}:\n  kmod:    {a!r}\n  kcourse: {b!r}")
                break
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
