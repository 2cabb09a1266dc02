"""ModulePanel: buttons for insmod/rmmod/modprobe/open/close over a ModuleModel, and views
of what they did (lsmod, /sys/module/<m>, dmesg, the module's state, its refcount).

    from kcourse.ui import ModulePanel
    panel = ModulePanel(kernel)          # a Kernel, a kcourse.shell.Shell, or a lab backend
    panel.buttons["insmod"].click()
"""

from __future__ import annotations

import ipywidgets as W

from kcourse.errors import KcourseError
from kcourse.ui import render
from kcourse.ui.choices import course_modules
from kcourse.ui.module_model import ACTIONS, ModuleModel
from kcourse.ui.params import ParamSpec, param_defaults
from kcourse.ui.picking import PickerMixin
from kcourse.ui.svgchart import step_chart

DMESG_SHOWN = 200  # newest lines kept in the pane


def _field(spec: ParamSpec, default: str) -> W.Widget:
    """A typed input for one parameter, starting at the module's own default."""
    if spec.kind == "int":
        try:
            value = int(default, 0)
        except ValueError:
            value = 0
        return W.IntText(value=value, layout=W.Layout(width="12em"))
    if spec.kind == "bool":
        return W.Checkbox(value=default[:1] in ("Y", "y", "1"), indent=False,
                          layout=W.Layout(width="12em"))
    return W.Text(value=default, placeholder=spec.type, layout=W.Layout(width="12em"))


class ModulePanel(PickerMixin, W.VBox):
    """Drive a kernel with the mouse. Controls: `module_picker`, `param_fields[name]` (and
    `param_enabled[name]`: pass it or keep the default), `buttons[action]` for each of
    ACTIONS. Views (HTML unless noted): `message`, `lsmod_view`, `sysfs_view`, `dmesg_view`,
    `state_view`, `refcount_chart` (an SVG step chart; `figure()` gives it as matplotlib)."""

    def __init__(self, kernel_or_backend=None, module: str = "hello"):
        self.model = ModuleModel(kernel_or_backend, module)
        self.module_picker = W.Combobox(value=module, options=course_modules(),
                                        ensure_option=False, description="module",
                                        placeholder="course module or path to a .ko",
                                        continuous_update=False)
        self.module_picker.observe(self._on_pick, names="value")
        self.info = W.HTML()
        self.param_fields: dict[str, W.Widget] = {}
        self.param_enabled: dict[str, W.Checkbox] = {}
        self.params_box = W.VBox()
        self.buttons = {a: W.Button(description=a, layout=W.Layout(width="auto"))
                        for a in ACTIONS}
        for action, button in self.buttons.items():
            button.on_click(lambda _b, a=action: self.do(a))
        self.message = W.HTML()
        self.lsmod_view = W.HTML()
        self.sysfs_view = W.HTML()
        self.state_view = W.HTML()
        self.dmesg_view = W.HTML()
        self.refcount_chart = W.HTML()
        for widget, css in ((self, "kc-module-panel"), (self.lsmod_view, "kc-lsmod-view"),
                            (self.sysfs_view, "kc-sysfs-view"), (self.state_view, "kc-state-view"),
                            (self.dmesg_view, "kc-dmesg-view"), (self.message, "kc-message-view"),
                            (self.refcount_chart, "kc-chart")):
            widget.add_class(css)
        views = W.HBox([
            W.VBox([W.HTML("<b>lsmod</b>"), self.lsmod_view, self.sysfs_view],
                   layout=W.Layout(width="45%")),
            W.VBox([W.HTML("<b>state</b>"), self.state_view, self.refcount_chart],
                   layout=W.Layout(width="55%")),
        ])
        super().__init__([
            W.HBox([self.module_picker, self.info]), self.params_box,
            W.HBox(list(self.buttons.values())), self.message, views,
            W.HTML("<b>dmesg</b> (new since this panel was made)"), self.dmesg_view,
        ])
        self._build_params()
        self.refresh()

    # ------------------------------------------------------------------ actions
    def do(self, action: str) -> None:
        """What a button does: run its line, show the result, redraw the views."""
        try:
            result = self.model.do(action)
        except KcourseError as err:
            self.message.value = render.error(str(err))
            return
        self.show_result(result)
        self.refresh()

    def _picked(self) -> None:
        self._build_params()

    def _build_params(self) -> None:
        model = self.model
        defaults = param_defaults(model.path)
        self.param_fields, self.param_enabled, rows = {}, {}, []
        for spec in model.specs:
            field = _field(spec, defaults.get(spec.name, ""))
            enabled = W.Checkbox(value=False, description=spec.name, indent=False,
                                 layout=W.Layout(width="10em"))
            field.observe(lambda c, s=spec: self._on_value(s, c["new"]), names="value")
            enabled.observe(lambda c, s=spec: self._on_enabled(s, c["new"]), names="value")
            self.param_fields[spec.name] = field
            self.param_enabled[spec.name] = enabled
            rows.append(W.HBox([enabled, field, W.HTML(
                f"<small>{render.escape(spec.type)}: {render.escape(spec.description)}</small>")]))
        self.params_box.children = rows
        count = len(model.specs)
        self.info.value = (f"<code>{render.escape(model.path.name)}</code>: module "
                           f"<b>{render.escape(model.name)}</b>, {count} parameter"
                           f"{'s' if count != 1 else ''}")

    def _on_value(self, spec: ParamSpec, value) -> None:
        self.model.set_param(spec.name, value)
        self.param_enabled[spec.name].value = True

    def _on_enabled(self, spec: ParamSpec, on: bool) -> None:
        self.model.set_param(spec.name, self.param_fields[spec.name].value if on else None)

    # ------------------------------------------------------------------ views
    def refresh(self) -> None:
        model = self.model
        self.lsmod_view.value = render.lsmod_table(model.lsmod())
        self.sysfs_view.value = render.sysfs_table(model.name, model.sysfs())
        self.state_view.value = render.state_diagram(model.state(), model.path_taken)
        lines = model.dmesg_new()
        first_new = model.dmesg_from_last()
        self.dmesg_view.value = render.dmesg(lines[-DMESG_SHOWN:],
                                             max(0, first_new - max(0, len(lines) - DMESG_SHOWN)))
        _modules, series = model.refcount_window()
        self.refcount_chart.value = step_chart(
            series, "Refcount per module (gaps: not loaded)", "module_refcount()",
            xlabel="kernel event # (since the panel was made)")

    def figure(self):
        """The same refcounts as a matplotlib figure (kcourse.charts.refcount_chart), over all
        of the kernel's events, for a lesson to show or save."""
        from types import SimpleNamespace

        from kcourse.charts import refcount_chart

        return refcount_chart(SimpleNamespace(events=self.model.refcount_events()),
                              self.model.charted_modules())
