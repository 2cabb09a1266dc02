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
    assert model.timeline.labels[:3] == ["start", "insmod leaker 1", "rmmod leaker 1"]
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


def cycle(panel, module, count):
    panel.module_picker.value = module
    panel.cycles.value = count
    panel.buttons["run"].click()


def test_picking_another_module_keeps_the_earlier_lines(kernel):
    panel = LeakPanel(kernel, "leaker")
    cycle(panel, "leaker", 3)
    cycle(panel, "noleak", 3)
    timeline = panel.model.timeline
    # one timeline: "start", then insmod/rmmod for each of the 6 cycles
    assert len(timeline.labels) == 1 + 2 * 6
    assert timeline.labels[6:9] == ["rmmod leaker 3", "insmod noleak 1", "rmmod noleak 1"]
    held = timeline.held
    assert list(held) == ["leaker", "noleak", "kernel total", "user process"]
    staircase = [0] + [n * KMALLOC_4K for n in (1, 1, 2, 2, 3, 3)]
    # leaker's staircase, then flat while noleak cycles (nothing frees it but a reboot)
    assert held["leaker"] == staircase + [3 * KMALLOC_4K] * 6
    # noleak was not loaded before it was picked; then up by one object, back to 0
    assert held["noleak"] == [0] * 7 + [KMALLOC_4K, 0] * 3
    pairs = zip(held["leaker"], held["noleak"], strict=True)
    assert held["kernel total"] == [a + b for a, b in pairs]
    assert held["user process"] == [0] + [GLIBC_CHUNK_4000, 0] * 6
    assert panel.model.cycles_done == 3
    assert "the kernel still holds 0 bytes for noleak (12288 bytes in all)" in \
        panel.summary.value
    for name in ("leaker", "noleak", "kernel total", "user process"):
        assert f'data-name="{name}"' in panel.chart.value
    # picking leaker again continues its line and its count
    cycle(panel, "leaker", 1)
    assert held["leaker"][-2:] == [4 * KMALLOC_4K] * 2
    assert held["noleak"][-2:] == [0, 0]
    assert timeline.labels[-1] == "rmmod leaker 4"
    panel.module_picker.value = "nonsense"
    assert "kc-error" in panel.message.value
    assert panel.model.module == "leaker"
    assert len(timeline.labels) == 1 + 2 * 7


def test_reboot_starts_over_on_a_new_kernel(kernel):
    panel = LeakPanel(kernel, "leaker")
    cycle(panel, "leaker", 3)
    cycle(panel, "noleak", 2)
    panel.buttons["reboot"].click()
    model = panel.model
    assert model.kernel is not kernel
    # the leak lived in the old kernel's memory; the new one starts empty
    assert model.kernel.memory.total() == 0
    assert kernel.memory.held_by("leaker") == 3 * KMALLOC_4K
    assert model.timeline.labels == ["boot"]
    assert model.timeline.held == {"noleak": [0], "kernel total": [0], "user process": [0]}
    assert model.cycles_done == 0 and model.cycle_counts == {}
    assert "after 0 cycles" in panel.summary.value
    assert 'data-name="leaker"' not in panel.chart.value
    cycle(panel, "leaker", 1)
    assert model.timeline.held["leaker"] == [0, KMALLOC_4K, KMALLOC_4K]
    assert model.kernel.memory.held_by("leaker") == KMALLOC_4K


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
