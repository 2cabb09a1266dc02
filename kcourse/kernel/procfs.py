"""The text of /proc/modules, /proc/kallsyms (module part), /proc/sys/kernel/tainted and
/sys/module/<m>/..., rendered from the kernel's state exactly as the 6.1 code prints it.

Sources: kernel/module/procfs.c m_show/print_unload_info; kernel/kallsyms.c s_show and
kernel/module/kallsyms.c module_get_kallsym/elf_type/is_exported; kernel/module/main.c
modinfo_attrs[] (uevent 0200, version, srcversion, initstate, coresize, initsize, taint,
refcnt, all 0444); kernel/module/sysfs.c (holders/ symlinks, sections/ 0400 "0x%px\\n" for
every SHF_ALLOC section with a size, notes/ 0444 for SHT_NOTE ones); kernel/params.c
(parameters/ only for perm != 0, file mode = perm).
Addresses are printed with %px (16 hex digits): root has CAP_SYSLOG, so kallsyms_show_value()
is true with Debian's kptr_restrict=0.
"""

from __future__ import annotations

import stat

from kcourse.kernel.layout import SHF_ALLOC, SHF_EXECINSTR, SHF_WRITE, SHT_NOBITS
from kcourse.kernel.states import ModuleState

S_DIR = stat.S_IFDIR | 0o755
S_LINK = stat.S_IFLNK | 0o777


def px(value: int | None) -> str:
    return f"{value or 0:016x}"


# ---------------------------------------------------------------- /proc/modules
def module_line(mod) -> str:
    """procfs.c m_show for one module (the caller skips UNFORMED ones)."""
    out = [f"{mod.name} {mod.size}", f" {mod.module_refcount()} "]
    deps = "".join(f"{src}," for src in mod.source_list)
    if mod.init and not mod.exit:
        deps += "[permanent],"
    out.append(deps or "-")
    out.append(f" {mod.state.proc_label}")
    out.append(f" 0x{px(mod.core_layout.base)}")
    if mod.taints:
        out.append(" " + mod.module_flags(show_state=True))
    return "".join(out) + "\n"


def proc_modules(kernel) -> str:
    return "".join(module_line(m) for m in kernel.modules if m.state != ModuleState.UNFORMED)


# ---------------------------------------------------------------- kallsyms
def elf_type(kernel_flags: list[int], sections, info: int, shndx: int, pcpu: int) -> str:
    """kernel/module/kallsyms.c elf_type ("As per nm")."""
    bind, typ = info >> 4, info & 0xF
    if bind == 2:  # STB_WEAK
        return "v" if typ == 1 else "w"
    if shndx == 0:
        return "U"
    if shndx == 0xFFF1 or (pcpu and shndx == pcpu):
        return "a"
    if shndx >= 0xFF00:
        return "?"
    flags = kernel_flags[shndx]
    if flags & SHF_EXECINSTR:
        return "t"
    if flags & SHF_ALLOC and sections[shndx].type != SHT_NOBITS:
        return "d" if flags & SHF_WRITE else "r"
    if sections[shndx].type == SHT_NOBITS:
        return "b"
    if sections[shndx].name.startswith(".debug"):
        return "n"
    return "?"


def module_kallsyms(mod) -> list[tuple[int, str, str]]:
    """(address, type letter, name) of the module's kallsyms, in symbol-table order.

    While COMING the kernel shows the whole symtab (init symbols included); once LIVE it
    switched to the core copy (do_init_module). Exported = in the module's __ksymtab (only
    the non-GPL table: is_exported() looks at mod->syms), with the same address.
    """
    img, lay = mod.image, mod.layout
    if lay is None:
        return []
    indices = range(len(img.symbols)) if mod.state == ModuleState.COMING else lay.core_symbols
    addr_of = {s.index: s.address for s in mod.sections}
    exported = {e.name for e in img.exports if not e.gpl_only}
    out = []
    for i in indices:
        name, value, info, shndx = img.symbols[i]
        if not name:
            continue
        typ = elf_type(lay.flags, img.sections, info, shndx, lay.pcpu_index)
        addr = value + addr_of.get(shndx, 0) if shndx not in (0, 0xFFF1) else value
        if name in exported:
            typ = typ.upper()
        else:
            typ = typ.lower()
        out.append((addr, typ, name))
    return out


def proc_kallsyms(kernel) -> str:
    lines = []
    for mod in kernel.modules:
        if mod.state == ModuleState.UNFORMED:
            continue
        for addr, typ, name in module_kallsyms(mod):
            lines.append(f"{px(addr)} {typ} {name}\t[{mod.name}]\n")
    return "".join(lines)


# ---------------------------------------------------------------- /sys/module/<m>
def sysfs_entries(mod) -> dict[str, tuple[int, str | None]]:
    """name -> (st_mode, symlink target or None) of /sys/module/<m>/."""
    out: dict[str, tuple[int, str | None]] = {"uevent": (stat.S_IFREG | 0o200, None)}
    if mod.version is not None:
        out["version"] = (stat.S_IFREG | 0o444, None)
    if mod.srcversion is not None:
        out["srcversion"] = (stat.S_IFREG | 0o444, None)
    for attr in ("initstate", "coresize", "initsize", "taint", "refcnt"):
        out[attr] = (stat.S_IFREG | 0o444, None)
    out["holders"] = (S_DIR, None)
    if any(p.perm for p in mod.params.values()):
        out["parameters"] = (S_DIR, None)
    if section_files(mod):
        out["sections"] = (S_DIR, None)
        if note_files(mod):
            out["notes"] = (S_DIR, None)
    return out


def sysfs_attr(mod, attr: str) -> str:
    if attr == "initstate":
        return mod.state.sysfs_label + "\n"
    if attr == "coresize":
        return f"{mod.core_layout.size}\n"
    if attr == "initsize":
        return f"{mod.init_layout.size}\n"
    if attr == "taint":
        return mod.taint_letters() + "\n"
    if attr == "refcnt":
        return f"{mod.module_refcount()}\n"
    if attr == "version":
        return f"{mod.version}\n"
    if attr == "srcversion":
        return f"{mod.srcversion}\n"
    raise KeyError(attr)


def section_files(mod) -> dict[str, int]:
    """sections/: every SHF_ALLOC section with a size (sect_empty), name -> address."""
    out = {}
    for s in mod.sections:
        if s.flags & SHF_ALLOC and s.size:
            out.setdefault(s.name, s.address)
    return out


def note_files(mod) -> dict[str, bytes]:
    notes = dict(mod.image.notes)
    return {s.name: notes.get(s.name, b"") for s in mod.sections
            if s.type == 7 and s.flags & SHF_ALLOC and s.size}


def params_dir(mod) -> dict[str, int]:
    return {p.name: stat.S_IFREG | p.perm for p in mod.params.values() if p.perm}
