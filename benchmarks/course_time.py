"""Whole-course benchmark: execute every lesson from a clean kernel and print each one's time.

Targets (issue 8): under 60 s for the whole course on a 2-core machine, under 15 s for any one
notebook. Wall-clock seconds, measured around nbclient's execute (kernel start included).

The lessons' %%kmodule cells and exercise checks run the real kbuild; an identical build is
replayed from kcourse's build cache (kcourse.build.kbuild_cache). --cold turns the cache off
(KCOURSE_BUILD_CACHE=0) so that every build runs make, as on a learner's first run.
Run: .venv/bin/python benchmarks/course_time.py [--cold] [NOTEBOOK...]
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from kcourse.paths import notebooks_dir

TARGET_ONE, TARGET_ALL = 15.0, 60.0


def run(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=600, resources={"metadata": {"path": str(path.parent)}}).execute()
    return time.perf_counter() - start


def main(argv: list[str]) -> int:
    if "--cold" in argv:
        argv = [a for a in argv if a != "--cold"]
        os.environ["KCOURSE_BUILD_CACHE"] = "0"  # inherited by the notebooks' kernels
    cache = "off: every build runs make" if os.environ.get("KCOURSE_BUILD_CACHE") == "0" \
        else "on: identical builds replayed"
    print(f"kbuild cache {cache}")
    paths = [Path(a) for a in argv] or sorted(notebooks_dir().glob("[0-9]*.ipynb"))
    total, slow = 0.0, []
    for path in paths:
        seconds = run(path)
        total += seconds
        mark = "" if seconds < TARGET_ONE else f"  (over {TARGET_ONE:.0f} s)"
        if mark:
            slow.append(path.name)
        print(f"{path.name:<45} {seconds:6.1f} s{mark}", flush=True)
    print(f"{'whole course':<45} {total:6.1f} s  ({verdict(total, slow)})")
    return 0


def verdict(total: float, slow: list[str]) -> str:
    """Which target was missed: the whole course's, a lesson's (named), both, or none.

    >>> verdict(34.0, ["05-Lab-A-Real-Kernel.ipynb"])
    'whole course within 60 s; over the 15 s per lesson: 05-Lab-A-Real-Kernel.ipynb'
    >>> verdict(61.0, [])
    'over the 60 s target for the whole course; every lesson within 15 s'
    >>> verdict(20.0, [])
    'ok: whole course within 60 s, every lesson within 15 s'
    """
    whole = (f"whole course within {TARGET_ALL:.0f} s" if total < TARGET_ALL
             else f"over the {TARGET_ALL:.0f} s target for the whole course")
    if not slow and total < TARGET_ALL:
        return f"ok: {whole}, every lesson within {TARGET_ONE:.0f} s"
    lessons = (f"over the {TARGET_ONE:.0f} s per lesson: {', '.join(slow)}" if slow
               else f"every lesson within {TARGET_ONE:.0f} s")
    return f"{whole}; {lessons}"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
