"""Charts: the plotted data, not pixels. Expected values come from the kernel/glibc rules
the models follow (cited), not from running the charts."""

import math
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

from kcourse import charts  # noqa: E402
from kcourse.kernel import Kernel, stack  # noqa: E402
from kcourse.kernel.concurrency import explore, increment  # noqa: E402
from kcourse.paths import course_module  # noqa: E402


def test_importing_charts_does_not_import_matplotlib():
    code = "import sys, kcourse.charts; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr


def test_leak_timeline_and_chart():
    t = charts.leak_timeline(cycles=5)
    assert t.labels[:3] == ["boot", "insmod 1", "rmmod 1"] and len(t.labels) == 11
    # kmalloc(4000) takes a kmalloc-4k object (include/linux/slab.h:433); leaker never frees
    # it (data/modules/leaker/leaker.c), noleak does, so after n cycles leaker holds n * 4096
    assert t.held["leaker"] == [0] + [4096 * (i // 2 + 1) for i in range(10)]
    assert t.held["noleak"] == [0] + [4096, 0] * 5
    assert t.held["kernel total"][-1] == 5 * 4096
    # glibc request2size(4000) = 4016; exit gives it back
    assert t.held["user process"] == [0] + [4016, 0] * 5
    fig = charts.memory_chart(t)
    plotted = {line.get_label(): list(line.get_ydata()) for ax in fig.axes for line in ax.lines}
    assert plotted == t.held


def test_refcount_chart():
    k = Kernel(seed=0)
    k.finit_module(course_module("provider"))
    k.finit_module(course_module("consumer"))
    k.finit_module(course_module("kcdev"))
    fd = k.open("/dev/kcdev")
    k.close(fd)
    k.delete_module("consumer")
    series = charts.refcount_series(k.events)
    final = {name: ys[-1] for name, ys in series.items()}
    # consumer gone (NaN); provider back to 0 once its user left (main.c module_unload_free);
    # kcdev's open/close took and dropped one reference (fops_get -> try_module_get)
    assert math.isnan(final["consumer"]) and final["provider"] == 0 and final["kcdev"] == 0
    # while consumer was loaded, provider counted 1 (ref_module -> try_module_get)
    assert max(v for v in series["provider"] if not math.isnan(v)) == 1
    assert 1 in series["kcdev"][series["kcdev"].index(0):]  # the open, after init was done
    fig = charts.refcount_chart(k)
    lines = {line.get_label(): list(line.get_ydata()) for line in fig.axes[0].lines}
    assert lines.keys() == series.keys()
    assert lines["kcdev"][-1] == 0


def test_interleavings_chart_bars():
    e = {"no lock": explore([increment(), increment()]),
         "mutex": explore([increment("mutex"), increment("mutex")])}
    fig = charts.interleavings_chart(e)
    heights = [p.get_height() for p in fig.axes[0].patches]
    # no lock: 18 schedules end at 1, 2 at 2 (see test_concurrency); mutex: 0 and 2
    assert heights == [18, 2, 0, 2]


def test_stack_chart():
    runs = {"kernel": stack.run_kernel([("hog", stack.frame_size(20000))]),
            "user": stack.run_user([("hog", stack.frame_size(20000))])}
    fig = charts.stack_chart(runs)
    widths = [p.get_width() for p in fig.axes[0].patches]
    assert widths[:2] == [16384, 8 * 1024 * 1024]  # THREAD_SIZE, _STK_LIM
    assert widths[2:] == [runs["kernel"].deepest, runs["user"].deepest]
