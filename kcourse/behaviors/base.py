"""The default behavior: init returns 0 and prints nothing (a module with no behavior)."""

from __future__ import annotations


class Behavior:
    module_name = ""

    def init(self, ctx) -> int:
        return 0

    def exit(self, ctx) -> None:
        return None
