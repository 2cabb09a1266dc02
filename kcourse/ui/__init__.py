"""Interactive panels (ipywidgets) over the simulated kernel; no logic of their own.

Each panel is a widget (a VBox) built on a model object that knows nothing of widgets; the
panel keeps its controls as attributes so a test or a lesson can drive it in code.

    from kcourse.ui import ElfExplorer
    ElfExplorer("hello")                 # a course module's name, or a path to any .ko
    # .picker, .open_button, .symbol_filter ("all"/"undefined"/"defined"),
    # .sections_view / .symbols_view / .modinfo_view (HTML), .model (ElfModel)

ipywidgets is imported only when a panel class is first used (`kcourse.ui` itself stays
light), and the models (kcourse.ui.*_model) never import it.
"""

from __future__ import annotations

_PANELS = {
    "ElfExplorer": "kcourse.ui.elf_explorer",
    "ModulePanel": "kcourse.ui.module_panel",
    "LeakPanel": "kcourse.ui.leak_panel",
}

__all__ = sorted(_PANELS)


def __getattr__(name: str):
    if name in _PANELS:
        import importlib

        return getattr(importlib.import_module(_PANELS[name]), name)
    raise AttributeError(f"module 'kcourse.ui' has no attribute {name!r}")
