"""LeakPanel: load/unload a module again and again next to a user process doing the same,
with a live chart (kcourse.charts.memory_chart) of what each still holds.

    from kcourse.ui import LeakPanel
    panel = LeakPanel(kernel, "leaker")
    panel.buttons["cycle"].click()       # one insmod / rmmod cycle
    panel.module_picker.value = "noleak" # its line joins the chart; leaker's stays
    panel.buttons["reboot"].click()      # a new Kernel: the leaks and the chart start over
"""

from __future__ import annotations

import ipywidgets as W

from kcourse.ui import render
from kcourse.ui.choices import course_modules
from kcourse.ui.leak_model import TOTAL_SERIES, USER_SERIES, LeakModel
from kcourse.ui.picking import PickerMixin
from kcourse.ui.svgchart import step_chart


class LeakPanel(PickerMixin, W.VBox):
    """Controls: `module_picker` (a new pick adds its line to the chart, the earlier ones stay),
    `cycles` (how many per click), `buttons["cycle"]` (one), `buttons["run"]` (`cycles` of
    them), `buttons["reboot"]` (a new Kernel: everything starts over). Views: `message` (the
    last command, or its refusal), `summary`, `chart` (SVG step charts; `figure()` gives them
    as matplotlib), `kmemleak_view` (the allocations of the module the ledger still counts)."""

    def __init__(self, kernel_or_backend=None, module: str = "leaker", seed: int = 0):
        self.model = LeakModel(kernel_or_backend, module, seed)
        self.module_picker = W.Combobox(value=module, options=course_modules(),
                                        ensure_option=False, description="module",
                                        continuous_update=False)
        self.module_picker.observe(self._on_pick, names="value")
        self.cycles = W.BoundedIntText(value=5, min=1, max=100, description="cycles",
                                       layout=W.Layout(width="12em"))
        self.buttons = {"cycle": W.Button(description="one cycle"),
                        "run": W.Button(description="run cycles"),
                        "reboot": W.Button(description="reboot")}
        self.buttons["cycle"].on_click(lambda _b: self.run(1))
        self.buttons["run"].on_click(lambda _b: self.run(self.cycles.value))
        self.buttons["reboot"].on_click(lambda _b: self.reboot())
        self.message = W.HTML()
        self.summary = W.HTML()
        self.kmemleak_view = W.HTML()
        self.chart = W.HTML()
        self.add_class("kc-leak-panel")
        self.chart.add_class("kc-chart")
        super().__init__([
            W.HBox([self.module_picker, self.cycles, *self.buttons.values()]),
            self.message, self.summary, self.chart, self.kmemleak_view,
        ])
        self.refresh()

    def run(self, count: int) -> None:
        result = self.model.run_cycles(count)
        if result is not None:
            self.show_result(result)
        self.refresh()

    def reboot(self) -> None:
        """A new Kernel under the panel (model.kernel): no leak survives a reboot."""
        self.model.reboot()
        self.message.value = ""
        self.refresh()

    def refresh(self) -> None:
        model = self.model
        self.summary.value = f"<p class='kc-summary'>{render.escape(model.summary())}</p>"
        rows = [[a.owner, a.kind, str(a.requested), str(a.allocated), a.site]
                for a in model.ledger.outstanding(model.module)]
        self.kmemleak_view.value = (
            render.table(["owner", "kind", "requested", "allocated", "site"], rows,
                         "kc-outstanding") if rows else
            f"<i>no allocation of {render.escape(model.module)} is outstanding</i>")
        timeline = model.timeline
        kernel = {k: v for k, v in timeline.held.items() if k != USER_SERIES}
        user = {USER_SERIES: timeline.held[USER_SERIES]}
        self.chart.value = (
            step_chart(kernel, "Kernel memory after each insmod/rmmod", "bytes held",
                       height=150, dashed=(TOTAL_SERIES,), xticks=False) + "<br>" +
            step_chart(user, "A user program that never calls free(): everything returns "
                       "at exit", "bytes held", xlabels=timeline.labels, height=170))

    def figure(self):
        """The same timeline as a matplotlib figure (kcourse.charts.memory_chart)."""
        from kcourse.charts import memory_chart

        return memory_chart(self.model.timeline)
