"""LeakPanel without a browser: cycles of a leaking module next to a user process.

References: leaker.c / noleak.c (kmalloc(4000) in init; exit without / with kfree), SLUB's
size classes (include/linux/slab.h __kmalloc_index: 4000 bytes come from kmalloc-4k, 4096),
glibc's malloc/malloc.c request2size (64-bit: (4000 + 8 + 15) & ~15 = 4016 bytes), and
exit_mm(): a process's memory all goes back when it exits.
"""

import errno
import os

import pytest

from kcourse.kernel import Kernel
from kcourse.ui import LeakPanel

KMALLOC_4K = 4096  # kmalloc-4k object for kmalloc(4000)
GLIBC_CHUNK_4000 = (4000 + 8 + 15) & ~15


@pytest.fixture
def kernel():
    return Kernel(seed=0)


def test_leaker_keeps_memory_across_cycles_and_the_process_does_not(kernel):
    panel = LeakPanel(kernel, "leaker")
    panel.buttons["cycle"].click()
    panel.cycles.value = 3
    panel.buttons["run"].click()
    model = panel.model
    assert model.cycles_done == 4
    assert kernel.memory.held_by("leaker") == 4 * KMALLOC_4K
    held = model.timeline.held
    assert held["leaker"] == [0, 1 * KMALLOC_4K, 1 * KMALLOC_4K, 2 * KMALLOC_4K,
                              2 * KMALLOC_4K, 3 * KMALLOC_4K, 3 * KMALLOC_4K,
                              4 * KMALLOC_4K, 4 * KMALLOC_4K]
    # the process "does the same": mallocs what init kmalloc'ed, never frees, then exits
    assert model.user_sizes == [4000]
    assert held["user process"] == [0] + [GLIBC_CHUNK_4000, 0] * 4
    assert model.timeline.labels[:3] == ["start", "insmod 1", "rmmod 1"]
    assert "the kernel still holds 16384 bytes for leaker" in panel.summary.value
    assert "the user process holds 0 bytes after exit" in panel.summary.value
    assert panel.kmemleak_view.value.count('data-key="leaker"') == 4
    assert 'data-name="leaker"' in panel.chart.value
    assert 'data-name="user process"' in panel.chart.value
    assert kernel.find_module("leaker") is None


def test_noleak_gives_everything_back(kernel):
    panel = LeakPanel(kernel, "noleak")
    panel.cycles.value = 3
    panel.buttons["run"].click()
    assert kernel.memory.held_by("noleak") == 0
    assert panel.model.timeline.held["noleak"] == [0, KMALLOC_4K, 0] + [KMALLOC_4K, 0] * 2
    assert "no allocation of noleak is outstanding" in panel.kmemleak_view.value


def test_a_refused_load_stops_the_cycles_and_changes_nothing(kernel):
    panel = LeakPanel(kernel, "failinit")
    before = kernel.snapshot()
    labels = list(panel.model.timeline.labels)
    panel.cycles.value = 3
    panel.buttons["run"].click()
    # failinit.c returns -ENODEV; kmod's insmod prints strerror
    assert (f"insmod: ERROR: could not insert module failinit/failinit.ko: "
            f"{os.strerror(errno.ENODEV)}") in panel.message.value
    assert panel.model.timeline.labels == labels
    assert kernel.snapshot() == before


def test_picking_another_module_starts_a_new_timeline(kernel):
    panel = LeakPanel(kernel, "leaker")
    panel.buttons["cycle"].click()
    panel.module_picker.value = "noleak"
    assert panel.model.module == "noleak"
    assert panel.model.timeline.labels == ["start"]
    # the leak of the earlier cycles is still in the kernel total
    assert panel.model.held()["kernel total"] == KMALLOC_4K
    panel.module_picker.value = "nonsense"
    assert "kc-error" in panel.message.value
    assert panel.model.module == "noleak"


def test_the_leak_panel_needs_a_simulated_kernel():
    class RunOnly:
        def run(self, line):
            raise AssertionError("not reached")

    from kcourse.errors import KcourseError

    with pytest.raises(KcourseError, match="simulated kernel"):
        LeakPanel(RunOnly())


def test_figure_is_the_charts_memory_chart(kernel):
    panel = LeakPanel(kernel, "leaker")
    panel.buttons["cycle"].click()
    fig = panel.figure()
    lines = {line.get_label(): list(line.get_ydata()) for ax in fig.axes for line in ax.lines}
    assert lines["leaker"] == panel.model.timeline.held["leaker"]
