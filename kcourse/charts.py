"""Charts for the lessons: each takes model data and returns a matplotlib Figure.

matplotlib is imported inside the functions only, so `import kcourse` (and everything in
kcourse.kernel) stays free of it. No function calls plt.show(); a notebook cell that ends
with the figure (or with `;`) displays it. The data builders (`*_series`, `*_timeline`) are
plain Python and are what the tests check, together with the plotted line data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: importing charts loads nothing of the kernel model
    from kcourse.kernel.concurrency import Exploration

USER_SERIES = "user process"   # MemoryTimeline series drawn on the bottom (user) axes
TOTAL_SERIES = "kernel total"  # ... and the dashed sum of the kernel's


# ----------------------------------------------------------------------------- refcounts
def refcount_series(events, modules: list[str] | None = None) -> dict[str, list[float]]:
    """module_refcount() of each module after every kernel event (NaN while not loaded).

    load_module sets refcnt to MODULE_REF_BASE + 1 while the module is being set up
    ("Hold reference count during initialization", kernel/module/main.c:552), so a module
    counts 1 from UNFORMED until init is done; after that the Kernel's get/put events carry the
    new count (try_module_get / module_put, including ref_module for dependents).
    """
    names = modules or list(dict.fromkeys(e.module for e in events if e.module))
    current: dict[str, float] = {n: math.nan for n in names}
    series: dict[str, list[float]] = {n: [] for n in names}
    for e in events:
        if e.module in current:
            if e.kind == "state" and e.detail[0] is None:
                current[e.module] = 1  # UNFORMED: refcnt = MODULE_REF_BASE + 1
            elif e.kind == "state" and e.detail[1] is None:
                current[e.module] = math.nan  # freed
            elif e.kind in ("get", "put"):
                current[e.module] = e.detail[0]
        for n in names:
            series[n].append(current[n])
    return series


def refcount_chart(kernel, modules: list[str] | None = None):
    """Refcount of each module over the kernel's events (a step line per module)."""
    import matplotlib.pyplot as plt

    series = refcount_series(kernel.events, modules)
    fig, ax = plt.subplots(figsize=(8, 3.2))
    for name, ys in series.items():
        ax.plot(range(len(ys)), ys, drawstyle="steps-post", marker=".", label=name)
    ax.set_xlabel("kernel event #")
    ax.set_ylabel("module_refcount()")
    ax.set_title("Refcount per module (gaps: not loaded)")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small")
    fig.tight_layout()
    plt.close(fig)
    return fig


# ----------------------------------------------------------------------------- memory
@dataclass
class MemoryTimeline:
    """Bytes held after each step of repeated load/unload (or start/exit) cycles."""

    labels: list[str] = field(default_factory=list)  # "insmod 1", "rmmod 1", ...
    held: dict[str, list[int]] = field(default_factory=dict)  # series name -> bytes per step

    def add(self, label: str, values: dict[str, int]) -> None:
        self.labels.append(label)
        for name, value in values.items():
            self.held.setdefault(name, []).append(value)


def leak_timeline(cycles: int = 5, seed: int = 0, kernel=None, modules=("leaker", "noleak"),
                  user_bytes: int = 4000) -> MemoryTimeline:
    """Load and unload each module `cycles` times; run a user program that mallocs
    `user_bytes` and never frees them alongside (it starts with insmod, exits with rmmod).

    Series: one per module (bytes the ledger still counts for it), "kernel total", and
    "user process" (bytes the program holds: glibc chunk while it runs, 0 after exit).
    """
    from kcourse.kernel import Kernel
    from kcourse.paths import course_module
    from kcourse.userspace import UserSystem

    k = kernel or Kernel(seed=seed)
    users = UserSystem(seed=seed)
    timeline = MemoryTimeline()

    def sample(label: str, proc) -> None:
        values = {m: k.memory.held_by(m) for m in modules}
        values[TOTAL_SERIES] = k.memory.total()
        values[USER_SERIES] = proc.held if proc is not None and proc.alive else 0
        timeline.add(label, values)

    sample("boot", None)
    for i in range(1, cycles + 1):
        for m in modules:
            k.finit_module(course_module(m))
        proc = users.spawn("leaky")
        proc.malloc(user_bytes)  # ... and never free()
        sample(f"insmod {i}", proc)
        for m in modules:
            k.delete_module(m)
        proc.exit(0)
        sample(f"rmmod {i}", proc)
    return timeline


def memory_chart(timeline: MemoryTimeline):
    """Memory held per module and in total (top), and by a user process (bottom)."""
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 4.8), sharex=True,
                                      gridspec_kw={"height_ratios": [2, 1]})
    xs = list(range(len(timeline.labels)))
    for name, ys in timeline.held.items():
        ax = bottom if name == USER_SERIES else top
        style = "--" if name == TOTAL_SERIES else "-"
        ax.plot(xs, ys, style, drawstyle="steps-post", marker="o", label=name)
    top.set_title("Kernel memory after each insmod/rmmod")
    top.set_ylabel("bytes held")
    bottom.set_title("A user program that never calls free(): everything returns at exit")
    bottom.set_ylabel("bytes held")
    bottom.set_xticks(xs, timeline.labels, rotation=45, ha="right", fontsize="small")
    for ax in (top, bottom):
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small")
    fig.tight_layout()
    plt.close(fig)
    return fig


# ----------------------------------------------------------------------------- interleavings
def interleavings_chart(explorations: dict[str, Exploration]):
    """Bars: for each variant (no lock, mutex, ...), how many schedules end with each value."""
    import matplotlib.pyplot as plt

    values = sorted({v for e in explorations.values() for v in e.outcomes()})
    fig, ax = plt.subplots(figsize=(7, 3.2))
    width = 0.8 / max(1, len(explorations))
    for i, (label, exploration) in enumerate(explorations.items()):
        counts = exploration.outcomes()
        xs = [j + i * width for j in range(len(values))]
        ax.bar(xs, [counts.get(v, 0) for v in values], width, label=label)
    ax.set_xticks([j + width * (len(explorations) - 1) / 2 for j in range(len(values))],
                  [f"counter = {v}" for v in values])
    ax.set_ylabel("schedules")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_title("Final counter over all interleavings")
    ax.legend(fontsize="small")
    fig.tight_layout()
    plt.close(fig)
    return fig


def race_fractions(explorations: dict[str, object]) -> dict[str, dict[str, float]]:
    """For each module's exploration (kcourse.machine.smp.Exploration): outcome -> the
    fraction of all its schedules that end with it (what `cat` printed, stripped)."""
    return {label: {out.strip(): n / e.schedules for out, n in e.outcomes.items()}
            for label, e in explorations.items()}


def race_chart(explorations: dict[str, object]):
    """Bars: for each module run on two CPUs, the share of its schedules ending with each
    counter value (log scale: the safe schedules of racy are a fraction of a percent)."""
    import matplotlib.pyplot as plt

    fractions = race_fractions(explorations)
    values = sorted({v for f in fractions.values() for v in f}, key=lambda v: (len(v), v))
    fig, ax = plt.subplots(figsize=(7, 3.2))
    width = 0.8 / max(1, len(fractions))
    for i, (label, share) in enumerate(fractions.items()):
        xs = [j + i * width for j in range(len(values))]
        ax.bar(xs, [100 * share.get(v, 0) for v in values], width,
               label=f"{label} ({explorations[label].schedules:,} schedules)")
    ax.set_xticks([j + width * (len(fractions) - 1) / 2 for j in range(len(values))],
                  [f"counter = {v}" for v in values])
    ax.set_yscale("log")
    ax.set_ylabel("% of schedules (log)")
    ax.set_title("Two CPUs in the module's write(): what cat prints after")
    ax.legend(fontsize="small")
    fig.tight_layout()
    plt.close(fig)
    return fig


# ----------------------------------------------------------------------------- stacks
def stack_chart(runs: dict[str, object]):
    """Horizontal bars: bytes a call chain needs vs the stack it runs on (log scale)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 2.4))
    labels = list(runs)
    ax.barh(labels, [runs[n].size for n in labels], color="lightgray", label="stack size")
    ax.barh(labels, [runs[n].deepest for n in labels], height=0.4,
            color=["tab:green" if runs[n].ok else "tab:red" for n in labels], label="needed")
    ax.set_xscale("log")
    ax.set_xlim(left=1024)
    ax.set_xlabel("bytes (log scale)")
    ax.set_title("Stack needed vs stack available")
    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    plt.close(fig)
    return fig
