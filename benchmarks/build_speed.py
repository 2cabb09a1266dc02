"""`kcourse build` benchmark: the first fetch of the pinned headers, and a warm build of hello.

Prints:
- the first fetch of the three build packages into an empty cache (kcourse.build.headers:
  apt-get download + dpkg -x, no root), its size on disk;
- `kcourse build` of the course's hello module (a copy in a temporary folder), median of N
  runs (default 5), against the installed headers when /usr/src has them and against the
  cached tree in any case.

Run: .venv/bin/python benchmarks/build_speed.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from kcourse import pin
from kcourse.build import headers
from kcourse.build.kbuild import build_module
from kcourse.paths import modules_dir


def du(path: Path) -> int:
    return sum(p.lstat().st_size for p in path.rglob("*"))


def build_times(kdir: Path, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / "hello"
            shutil.copytree(modules_dir() / "hello", src,
                            ignore=shutil.ignore_patterns("*.ko", "*.mod*", "*.o", ".*.cmd"))
            start = time.perf_counter()
            build_module(src, kdir=kdir, out_dir=src)
            times.append(time.perf_counter() - start)
    return times


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as cache:
        os.environ["XDG_CACHE_HOME"] = cache
        start = time.perf_counter()
        tree = headers.fetch_tree(pin.release())
        fetch = time.perf_counter() - start
        size = du(headers.cache_root(pin.release()))
        print(f"first fetch of {', '.join(pin.build_packages())}: {fetch:.1f} s, "
              f"{size / 2**20:.0f} MiB unpacked")
        cached = build_times(tree, runs)
        print(f"kcourse build hello, cached headers: median {statistics.median(cached):.2f} s "
              f"over {runs} (min {min(cached):.2f} s)")
    installed = headers.installed_tree(pin.release())
    if installed:
        times = build_times(installed, runs)
        print(f"kcourse build hello, {installed}: median {statistics.median(times):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
