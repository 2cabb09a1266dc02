"""What ModulePanel and LeakPanel share: a module picker whose new value the model takes (or
refuses in one line), and a message view showing the last command's result."""

from __future__ import annotations

from kcourse.errors import KcourseError
from kcourse.ui import render


class PickerMixin:
    """For a panel with `.model` (select(value)), `.message` (an HTML widget) and `refresh()`."""

    def show_result(self, result) -> None:
        """The command line, its output and exit status (a kcourse.shell CommandResult)."""
        self.message.value = render.message(result.line, result.stdout, result.stderr,
                                            result.rc)

    def _on_pick(self, change) -> None:
        try:
            self.model.select(change["new"])
        except KcourseError as err:
            self.message.value = render.error(str(err))
            return
        self.message.value = ""
        self._picked()
        self.refresh()

    def _picked(self) -> None:
        """What a panel redraws beyond refresh() once the model has taken a new module."""
