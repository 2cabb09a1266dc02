"""struct module, as the simulated kernel keeps it (include/linux/module.h, 6.1).

Fields carry the kernel's names: state, name, refcnt (atomic_t, MODULE_REF_BASE included),
source_list ("What modules depend on me?") and target_list ("What modules do I depend on?")
as lists of names in list order (list_add puts the newest first), taints (bit mask),
core_layout/init_layout, the section addresses sysfs shows, params (kernel_param + value),
and the exports it adds to the symbol table. layout_view() shows the same memory the way
three kernel eras declare it: <= 4.4 (module_core/module_init + sizes), 4.5-6.3
(struct module_layout core_layout/init_layout) and 6.4+ (struct module_memory mem[]).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kcourse.kernel.image import Export, ModuleImage
from kcourse.kernel.layout import LayoutResult, ModuleLayout
from kcourse.kernel.params import Param
from kcourse.kernel.states import ModuleState

MODULE_REF_BASE = 1  # kernel/module/main.c
MODULE_NAME_LEN = 56  # MAX_PARAM_PREFIX_LEN = 64 - sizeof(unsigned long)

# kernel/panic.c taint_flags[]: bit -> (letter, applies to modules)
TAINT_FLAGS = {0: ("P", True), 1: ("F", True), 2: ("S", False), 3: ("R", False),
               4: ("M", False), 5: ("B", False), 6: ("U", False), 7: ("D", False),
               8: ("A", False), 9: ("W", False), 10: ("C", True), 11: ("I", False),
               12: ("O", True), 13: ("E", True), 14: ("L", False), 15: ("K", True),
               16: ("X", True), 17: ("T", True), 18: ("N", True)}
TAINT_PROPRIETARY_MODULE, TAINT_FORCED_MODULE, TAINT_FORCED_RMMOD = 0, 1, 3
TAINT_CRAP, TAINT_OOT_MODULE, TAINT_UNSIGNED_MODULE, TAINT_LIVEPATCH = 10, 12, 13, 15
TAINT_TEST = 18


def module_flags_taint(taints: int) -> str:
    """main.c module_flags_taint: letters of the module-relevant taint bits, in bit order."""
    return "".join(c for bit, (c, mod) in TAINT_FLAGS.items() if mod and taints >> bit & 1)


@dataclass
class LoadedSection:
    name: str
    index: int
    flags: int
    type: int
    size: int
    init: bool
    address: int


@dataclass
class Module:
    name: str
    image: ModuleImage
    state: ModuleState = ModuleState.UNFORMED
    refcnt: int = 0  # atomic_t refcnt: MODULE_REF_BASE + references (0 = going)
    source_list: list[str] = field(default_factory=list)
    target_list: list[str] = field(default_factory=list)
    taints: int = 0
    core_layout: ModuleLayout = field(default_factory=ModuleLayout)
    init_layout: ModuleLayout = field(default_factory=ModuleLayout)
    sections: list[LoadedSection] = field(default_factory=list)
    params: dict[str, Param] = field(default_factory=dict)
    args: str = ""
    sig_ok: bool = False
    using_gplonly_symbols: bool = False
    layout: LayoutResult | None = None
    devices: list[str] = field(default_factory=list)
    behavior: object = None
    context: object = None
    code: object = None  # kcourse.machine.placement.ModuleCode: its code in the emulated CPU
    raw: bytes = field(default=b"", repr=False)  # the ELF image, while the module is loaded
    sysfs: bool = False  # /sys/module/<name> exists (mod_sysfs_setup .. mod_sysfs_teardown)
    was_live: bool = False

    # ------------------------------------------------------------------ identity
    @property
    def init(self) -> bool:
        """mod->init != NULL (module_init() was used)."""
        return self.image.has_init

    @property
    def exit(self) -> bool:
        """mod->exit != NULL (module_exit() was used)."""
        return self.image.has_exit

    @property
    def exports(self) -> tuple[Export, ...]:
        return self.image.exports

    def export(self, name: str) -> Export:
        return self.image.exports_map[name]

    @property
    def version(self) -> str | None:
        return self.image.get_modinfo("version")

    @property
    def srcversion(self) -> str | None:
        return self.image.get_modinfo("srcversion")

    # ------------------------------------------------------------------ counts
    def module_refcount(self) -> int:
        """main.c module_refcount(): what /sys/module/<m>/refcnt and /proc/modules show."""
        return self.refcnt - MODULE_REF_BASE

    @property
    def size(self) -> int:
        """/proc/modules size: init_layout.size + core_layout.size (procfs.c m_show)."""
        return self.init_layout.size + self.core_layout.size

    @property
    def permanent(self) -> bool:
        return self.init and not self.exit

    def taint_letters(self) -> str:
        return module_flags_taint(self.taints)

    def module_flags(self, show_state: bool = True) -> str:
        """main.c module_flags: "(OE)", "(OE+)" while loading, "(-)" while unloading."""
        if not self.taints and not show_state:
            return ""
        if self.taints or self.state in (ModuleState.GOING, ModuleState.COMING):
            out = "(" + self.taint_letters()
            if self.state == ModuleState.GOING and show_state:
                out += "-"
            if self.state == ModuleState.COMING and show_state:
                out += "+"
            return out + ")"
        return ""

    # ------------------------------------------------------------------ views
    def layout_view(self, era: str = "6.1") -> dict:
        """The memory of this module as a kernel of that era declares it in struct module."""
        core, init = self.core_layout, self.init_layout
        if era == "6.1":
            return {"core_layout": core.as_dict(), "init_layout": init.as_dict()}
        if era == "4.4":
            return {"module_core": core.base, "core_size": core.size,
                    "core_text_size": core.text_size, "core_ro_size": core.ro_size,
                    "module_init": init.base or 0, "init_size": init.size,
                    "init_text_size": init.text_size, "init_ro_size": init.ro_size}
        if era == "6.4":
            from kcourse.kernel.layout import mem_types_64

            mem = mem_types_64(self.layout, self.image) if self.layout else {}
            if self.state == ModuleState.LIVE:
                for key in ("MOD_INIT_TEXT", "MOD_INIT_DATA", "MOD_INIT_RODATA"):
                    mem[key] = 0  # do_init_module frees and zeroes the init types
            return {"mem": {k: {"size": v} for k, v in mem.items()}}
        raise ValueError(f"unknown era {era!r}: use '4.4', '6.1' or '6.4'")

    def snapshot(self) -> tuple:
        return (self.name, int(self.state), self.refcnt, tuple(self.source_list),
                tuple(self.target_list), self.taints, self.core_layout.size,
                self.init_layout.size, self.core_layout.base,
                tuple(p.snapshot() for p in self.params.values()),
                tuple(self.devices))
