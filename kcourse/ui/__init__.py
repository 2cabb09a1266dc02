"""Interactive panels (ipywidgets) over the simulated kernel; no logic of their own.

Each panel is a widget (a VBox) built on a model that knows nothing of widgets
(kcourse.ui.module_model, leak_model, elf_model); it keeps its controls as attributes, so a
lesson, a test or a learner can drive it in code as well as with the mouse. Every action is a
shell line run through kcourse.shell.Shell, so the texts are kmod's and bash's own; a refused
action shows the real error (stderr) and changes nothing.

Usage in a lesson (show the panel in one cell with `# NBVAL_IGNORE_OUTPUT`, and check the
state in the next cell, which nbval compares):

    # NBVAL_IGNORE_OUTPUT
    from kcourse.kernel import Kernel
    from kcourse.ui import ModulePanel
    kernel = Kernel(seed=0)
    panel = ModulePanel(kernel, "hello")   # a Kernel, a kcourse.shell.Shell, or a lab backend
    panel

    panel.param_fields["count"].value = 3  # typed from modinfo's parmtype (int -> IntText)
    panel.buttons["insmod"].click()        # also "rmmod", "rmmod -f", "modprobe",
                                           # "modprobe -r", "open", "close"
    print(kernel.find_module("hello").state.name, panel.model.path_taken)

ModulePanel(kernel_or_backend=None, module="hello")
    .module_picker (course module name or any .ko path), .param_fields / .param_enabled,
    .buttons[action]; views: .message, .lsmod_view, .sysfs_view, .dmesg_view, .state_view
    (enum module_state diagram), .refcount_chart (SVG, grows with the kernel's events);
    .model (ModuleModel: .last CommandResult, .path_taken, .refcount_window());
    .figure() gives the refcounts as a kcourse.charts matplotlib figure.
LeakPanel(kernel_or_backend=None, module="leaker", seed=0)
    .module_picker, .cycles, .buttons["cycle"] / ["run"] / ["reboot"]; .summary, .chart,
    .kmemleak_view; .model.kernel (replaced by .model.reboot()); picking another module keeps
    the earlier modules' lines on the chart;
    .model (LeakModel: .timeline, a kcourse.charts.MemoryTimeline); .figure() is
    kcourse.charts.memory_chart of the same timeline.
ElfExplorer(path="hello", table=None, kernel=None)
    .picker, .open_button, .symbol_filter ("all" / "undefined" / "defined");
    .sections_view / .symbols_view / .modinfo_view; .model (ElfModel). Undefined symbols are
    resolved against `table` (a kcourse.elf.symvers.SymbolTable; default: Debian's shipped
    Module.symvers, plus the exports of the modules loaded in `kernel` when one is given).

`import kcourse.ui` stays light: ipywidgets is imported when a panel class is first used.
"""

from __future__ import annotations

_PANELS = {
    "ElfExplorer": "kcourse.ui.elf_explorer",
    "LeakPanel": "kcourse.ui.leak_panel",
    "ModulePanel": "kcourse.ui.module_panel",
}

__all__ = sorted(_PANELS)


def __getattr__(name: str):
    if name in _PANELS:
        import importlib

        return getattr(importlib.import_module(_PANELS[name]), name)
    raise AttributeError(f"module 'kcourse.ui' has no attribute {name!r}")
