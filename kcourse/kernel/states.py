"""enum module_state and the transitions the 6.1 loader makes (include/linux/module.h).

The values are the kernel's own (LIVE=0, COMING=1, GOING=2, UNFORMED=3; unchanged since
UNFORMED was added in 3.8). TRANSITIONS lists every state change kernel/module/main.c makes,
keyed (from, to), with None meaning "not in the modules list", and the function that makes it.
Tests check that the simulator never makes any other change.
"""

from __future__ import annotations

from enum import IntEnum


class ModuleState(IntEnum):
    LIVE = 0  # "Normal state."
    COMING = 1  # "Full formed, running module_init."
    GOING = 2  # "Going away."
    UNFORMED = 3  # "Still setting it up."

    @property
    def proc_label(self) -> str:
        """The word /proc/modules prints (kernel/module/procfs.c m_show)."""
        return {0: "Live", 1: "Loading", 2: "Unloading"}.get(int(self), "")

    @property
    def sysfs_label(self) -> str:
        """What /sys/module/<m>/initstate shows (main.c show_initstate; UNFORMED is a BUG())."""
        return {0: "live", 1: "coming", 2: "going"}.get(int(self), "unknown")


# (from, to) -> where kernel/module/main.c (6.1) makes that change.
TRANSITIONS: dict[tuple[ModuleState | None, ModuleState | None], str] = {
    (None, ModuleState.UNFORMED): "add_unformed_module: list_add_rcu(&mod->list, &modules)",
    (ModuleState.UNFORMED, None): "load_module: unlink_mod (a load that failed before COMING)",
    (ModuleState.UNFORMED, ModuleState.COMING): "complete_formation",
    (ModuleState.COMING, ModuleState.LIVE): "do_init_module: init returned >= 0",
    (ModuleState.COMING, ModuleState.GOING): "do_init_module fail / load_module coming_cleanup",
    (ModuleState.LIVE, ModuleState.GOING): "delete_module -> try_stop_module",
    (ModuleState.GOING, ModuleState.UNFORMED): "free_module (stays listed to block reloads)",
    (ModuleState.GOING, None): "load_module: bug_cleanup ... unlink_mod",
}


def allowed(old: ModuleState | None, new: ModuleState | None) -> bool:
    return (old, new) in TRANSITIONS
