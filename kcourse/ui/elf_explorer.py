"""ElfExplorer: the sections, symbols and .modinfo of a .ko, drawn from ElfModel.

    ElfExplorer("data/modules/hello/hello.ko")   # or a course module's name: ElfExplorer("hello")
    ElfExplorer("consumer", kernel=kernel)       # also resolve against the modules loaded there
"""

from __future__ import annotations

import ipywidgets as W

from kcourse.errors import KcourseError
from kcourse.ui import render
from kcourse.ui.choices import course_modules, resolve_choice
from kcourse.ui.elf_model import ElfModel, kernel_table


class ElfExplorer(W.VBox):
    """A picker, a title line and three tabs: Sections, Symbols, .modinfo."""

    def __init__(self, path: str = "hello", table=None, kernel=None):
        self.kernel = kernel
        self.table = table
        self.model: ElfModel | None = None
        self.picker = W.Combobox(value=str(path), options=course_modules(),
                                 description="file", ensure_option=False,
                                 placeholder="course module or path to a .ko",
                                 continuous_update=False)
        self.picker.observe(lambda c: self.load(c["new"]), names="value")
        self.open_button = W.Button(description="open", icon="folder-open")
        self.open_button.on_click(lambda _b: self.load(self.picker.value))
        self.title = W.HTML()
        self.symbol_filter = W.ToggleButtons(options=["all", "undefined", "defined"],
                                             value="all", description="symbols")
        self.symbol_filter.observe(lambda _c: self._draw_symbols(), names="value")
        self.sections_view = W.HTML()
        self.symbols_view = W.HTML()
        self.modinfo_view = W.HTML()
        self.tabs = W.Tab(children=[self.sections_view,
                                    W.VBox([self.symbol_filter, self.symbols_view]),
                                    self.modinfo_view])
        for i, name in enumerate(["Sections", "Symbols", ".modinfo"]):
            self.tabs.set_title(i, name)
        super().__init__([W.HBox([self.picker, self.open_button]), self.title, self.tabs])
        self.load(str(path))

    def load(self, choice: str) -> None:
        """Open another file; a bad choice shows its one-line error and keeps the old view."""
        try:
            table = self.table
            if table is None or self.kernel is not None:
                table = kernel_table(self.kernel)  # the loaded modules may have changed
            model = ElfModel(resolve_choice(choice), table)
            model.section_rows()
        except KcourseError as err:
            self.title.value = render.error(str(err))
            return
        self.model = model
        if self.kernel is None:
            self.table = model.table
        self.title.value = f"<b>{render.escape(model.title)}</b>"
        self.sections_view.value = render.scroll(render.table(
            ["Nr", "Name", "Type", "Size", "Flags", "After load"], model.section_rows(),
            "kc-sections", key=1))
        self.modinfo_view.value = render.table(["key", "value"], model.modinfo_rows(),
                                               "kc-modinfo")
        self._draw_symbols()

    def _draw_symbols(self) -> None:
        if self.model is None:
            return
        self.symbols_view.value = render.scroll(render.table(
            ["Num", "Name", "Type", "Bind", "Ndx", "Size", "Resolved against the kernel"],
            self.model.symbol_rows(self.symbol_filter.value), "kc-symbols", key=1))
