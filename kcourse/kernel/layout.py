"""Where each section of a module goes, and how big the module is: 6.1's layout rules.

kernel/module/main.c (6.1) layout_sections() places every SHF_ALLOC section in two regions,
core and init (".init*" sections; exit code stays in core because CONFIG_MODULE_UNLOAD=y),
in five passes by flags - executable, read-only, ro_after_init, writable, the rest - and with
CONFIG_STRICT_MODULE_RWX page-aligns the end of each pass (strict_align). Before that
load_module() clears SHF_ALLOC from .modinfo and __versions (rewrite_section_headers) and
from .data..percpu, and marks .data..ro_after_init and __jump_table SHF_RO_AFTER_INIT
(layout_and_allocate). Then kernel/module/kallsyms.c layout_symtab() appends the whole
.symtab/.strtab to init and a copy of the "core" symbols (plus their names and a type byte
each) to core. /proc/modules shows core + init size; init becomes 0 once init has run.
x86-64 keeps data with the code (no CONFIG_ARCH_WANTS_MODULES_DATA_IN_VMALLOC), so the
kernel's data_layout *is* core_layout.
"""

from __future__ import annotations

from dataclasses import dataclass

from kcourse.kernel.image import ModuleImage

PAGE_SIZE = 4096
SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 0x1, 0x2, 0x4
SHF_RO_AFTER_INIT = 0x00200000  # include/uapi/linux/elf.h
ARCH_SHF_SMALL = 0  # x86 has no small-data sections (kernel/module/internal.h default)
INIT_OFFSET_MASK = 1 << 63
SIZEOF_ELF_SYM = 24
SIZEOF_MOD_KALLSYMS = 32  # struct mod_kallsyms: symtab, num_symtab, strtab, typetab
SHT_NOBITS = 8

MASKS = (  # layout_sections: (flags that must be set, flags that must be clear)
    (SHF_EXECINSTR | SHF_ALLOC, ARCH_SHF_SMALL),
    (SHF_ALLOC, SHF_WRITE | ARCH_SHF_SMALL),
    (SHF_RO_AFTER_INIT | SHF_ALLOC, ARCH_SHF_SMALL),
    (SHF_WRITE | SHF_ALLOC, ARCH_SHF_SMALL),
    (ARCH_SHF_SMALL | SHF_ALLOC, 0),
)


def align(value: int, to: int) -> int:
    to = to or 1
    return (value + to - 1) // to * to


def page_align(value: int) -> int:
    return align(value, PAGE_SIZE)


@dataclass
class ModuleLayout:
    """struct module_layout (include/linux/module.h, 4.5-6.3); base is set when allocated."""

    size: int = 0
    text_size: int = 0
    ro_size: int = 0
    ro_after_init_size: int = 0
    base: int = 0

    def as_dict(self) -> dict:
        return {"base": self.base, "size": self.size, "text_size": self.text_size,
                "ro_size": self.ro_size, "ro_after_init_size": self.ro_after_init_size}


@dataclass
class Placement:
    index: int
    name: str
    flags: int  # sh_flags after the loader's edits
    type: int
    size: int
    init: bool
    offset: int


@dataclass
class LayoutResult:
    core: ModuleLayout
    init: ModuleLayout
    placements: dict[int, Placement]  # section index -> where it went (SHF_ALLOC ones)
    flags: list[int]  # every section's sh_flags after the loader's edits
    core_symbols: list[int]  # symbol-table indices copied to core (index 0 included)
    pcpu_index: int = 0


def module_init_layout_section(name: str) -> bool:
    """main.c: module_init_section() = name starts with ".init" (exit stays: MODULE_UNLOAD)."""
    return name.startswith(".init")


def compute(img: ModuleImage, ignore_modversions: bool = False) -> LayoutResult:
    sections = img.sections
    flags = [s.flags for s in sections]

    def find_sec(name: str) -> int:
        for s in sections:
            if flags[s.index] & SHF_ALLOC and s.name == name:
                return s.index
        return 0

    info_idx = find_sec(".modinfo")
    vers_idx = 0 if ignore_modversions else find_sec("__versions")
    pcpu_idx = find_sec(".data..percpu")
    # rewrite_section_headers: "Track but don't keep modinfo and version sections."
    flags[vers_idx] &= ~SHF_ALLOC
    flags[info_idx] &= ~SHF_ALLOC
    # layout_and_allocate: percpu is allocated separately; ro_after_init marking
    flags[pcpu_idx] &= ~SHF_ALLOC
    for name in (".data..ro_after_init", "__jump_table"):
        idx = find_sec(name)
        if idx:
            flags[idx] |= SHF_RO_AFTER_INIT

    entsize: list[int | None] = [None] * len(sections)
    core, init = ModuleLayout(), ModuleLayout()

    def get_offset(lay: ModuleLayout, sec) -> int:
        ret = align(lay.size, sec.align or 1)
        lay.size = ret + sec.size
        return ret

    for want_init, lay in ((False, core), (True, init)):
        for m, (must, must_not) in enumerate(MASKS):
            for s in sections:
                f = flags[s.index]
                if (f & must) != must or f & must_not or entsize[s.index] is not None \
                        or module_init_layout_section(s.name) != want_init:
                    continue
                off = get_offset(lay, s)
                entsize[s.index] = off | (INIT_OFFSET_MASK if want_init else 0)
            if m == 0:
                lay.size = page_align(lay.size)
                lay.text_size = lay.size
            elif m == 1:
                lay.size = page_align(lay.size)
                lay.ro_size = lay.size
            elif m == 2:
                if want_init:
                    lay.ro_after_init_size = lay.ro_size
                else:
                    lay.size = page_align(lay.size)
                    lay.ro_after_init_size = lay.size
            elif m == 4:
                lay.size = page_align(lay.size)

    core_symbols: list[int] = []
    if img.symtab_index:
        # kallsyms.c layout_symtab
        symsect = sections[img.symtab_index]
        strsect = sections[img.strtab_index]
        flags[symsect.index] |= SHF_ALLOC
        entsize[symsect.index] = get_offset(init, symsect) | INIT_OFFSET_MASK
        nsec = len(sections)
        # is_core_symbol per section (CONFIG_KALLSYMS_ALL=y): allocated and not in init
        core_sec = [bool(flags[i] & SHF_ALLOC) and not (entsize[i] is not None
                                                       and entsize[i] & INIT_OFFSET_MASK)
                    for i in range(nsec)]
        if pcpu_idx:
            core_sec[pcpu_idx] = True
        core_sec[0] = False
        strtab_size = 1  # symbol 0 is always copied, with its empty name
        core_symbols.append(0)
        for i, (name, _value, _info, shndx) in enumerate(img.symbols):
            if i and name and shndx < nsec and core_sec[shndx]:
                strtab_size += len(name.encode("utf-8", "surrogateescape")) + 1
                core_symbols.append(i)
        ndst = len(core_symbols)
        symoffs = align(core.size, symsect.align or 1)
        core.size = symoffs + ndst * SIZEOF_ELF_SYM + strtab_size + ndst
        core.size = page_align(core.size)
        flags[strsect.index] |= SHF_ALLOC
        entsize[strsect.index] = get_offset(init, strsect) | INIT_OFFSET_MASK
        init.size = align(init.size, 8) + SIZEOF_MOD_KALLSYMS + len(img.symbols)
        init.size = page_align(init.size)

    placements = {}
    for s in sections:
        e = entsize[s.index]
        if e is None or not flags[s.index] & SHF_ALLOC:
            continue
        placements[s.index] = Placement(s.index, s.name, flags[s.index], s.type, s.size,
                                        bool(e & INIT_OFFSET_MASK), e & ~INIT_OFFSET_MASK)
    return LayoutResult(core, init, placements, flags, core_symbols, pcpu_idx)


def mem_types_64(result: LayoutResult, img: ModuleImage) -> dict[str, int]:
    """What 6.4+ (enum mod_mem_type, one page-aligned region per type) would allocate.

    An approximation for the era view: sections are summed per type with their alignment;
    the core symbol copy goes to MOD_DATA as in 6.4's layout_symtab.
    """
    placements, ncore = result.placements, len(result.core_symbols)
    aligns = {s.index: s.align or 1 for s in img.sections}
    sizes = dict.fromkeys(("MOD_TEXT", "MOD_DATA", "MOD_RODATA", "MOD_RO_AFTER_INIT",
                           "MOD_INIT_TEXT", "MOD_INIT_DATA", "MOD_INIT_RODATA"), 0)
    for p in sorted(placements.values(), key=lambda p: p.offset):
        if p.flags & SHF_EXECINSTR:
            kind = "TEXT"
        elif p.flags & SHF_RO_AFTER_INIT:
            kind = "RO_AFTER_INIT"
        elif p.flags & SHF_WRITE or p.index in (img.symtab_index, img.strtab_index):
            kind = "DATA"
        else:
            kind = "RODATA"
        if kind == "RO_AFTER_INIT" and p.init:
            kind = "RODATA"
        key = ("MOD_INIT_" if p.init else "MOD_") + kind
        sizes[key] = align(sizes[key], aligns.get(p.index, 1)) + p.size
    if ncore:
        names = sum(len(img.symbols[i][0]) + 1 for i in result.core_symbols)
        sizes["MOD_DATA"] = align(sizes["MOD_DATA"], 8) + ncore * (SIZEOF_ELF_SYM + 1) + names
    return {k: page_align(v) for k, v in sizes.items()}
