"""Where a faulting instruction in module code sits: the RIP and Code: lines of an oops.

Given an instruction's place in a loaded module (kcourse.machine finds it by running the
module's code; a test may name it by section and offset, read from `objdump -d`), everything
the report prints about it follows from the module's own section table, symbol table and
bytes, placed where the 6.1 loader put them (kcourse.kernel.layout, Module.sections):

- RIP `name+0xoff/0xsize [mod]`: %pS of a module address is kernel/module/kallsyms.c:262-315
  find_kallsyms_symbol: the closest named, defined symbol at or below the address; the size
  runs to the next symbol above it, or to the end of the layout's text (text_size, page
  aligned by strict_align) - not the ELF st_size. The table searched is mod->kallsyms: the
  whole symtab while init runs (COMING), the core copy afterwards (layout_symtab).
- `Code:` is arch/x86/kernel/dumpstack.c:113-135 show_opcodes: 64 bytes copied from
  ip - 42 (PROLOGUE_SIZE) with copy_from_kernel_nofault. If any of them is unmapped the line
  is "Code: Unable to access opcode bytes at 0x<ip - 42>.". A module's core and init live in
  their own vmalloc areas (module_alloc), each followed by a guard page (mm/vmalloc.c:2567
  __get_vm_area_node: size += PAGE_SIZE unless VM_NO_GUARD), so the page before a layout's
  base is never mapped: a fault in the first 42 bytes of a layout's text - e.g. in a
  .text.unlikely function that gcc placed right after a short .text - cannot show its
  prologue. Otherwise the bytes are the sections' file bytes at their load offsets, zeros
  between them (move_module clears the allocation); relocated fields keep their file
  values (model: the real ones hold addresses that change with every boot).
"""

from __future__ import annotations

from pathlib import Path

from kcourse.kernel.layout import page_align

PROLOGUE_SIZE, EPILOGUE_SIZE = 42, 21  # arch/x86/kernel/dumpstack.c:115-116
OPCODE_BUFSIZE = PROLOGUE_SIZE + 1 + EPILOGUE_SIZE
SHN_UNDEF = 0
COMING = 1  # ModuleState.COMING


def section_address(mod, name: str) -> int:
    """Where section `name` of a loaded module was placed (Module.sections)."""
    for sec in mod.sections:
        if sec.name == name:
            return sec.address
    raise KeyError(f"{mod.name}: no loaded section {name}")


def _symbol_values(mod):
    """(name, address) of the symbols find_kallsyms_symbol scans (mod->kallsyms)."""
    placed = {sec.index: sec.address for sec in mod.sections}
    image = mod.image
    if int(mod.state) == COMING or mod.layout is None:
        indices = range(len(image.symbols))
    else:
        indices = mod.layout.core_symbols
    for i in indices:
        name, value, _info, shndx = image.symbols[i]
        if not i or shndx == SHN_UNDEF or not name or shndx not in placed:
            continue
        yield name, placed[shndx] + value


def _within(layout, addr: int) -> bool:
    return bool(layout.base) and layout.base <= addr < layout.base + layout.size


def kallsyms_lookup(mod, addr: int) -> str:
    """%pS of a module address: 'name+0xoff/0xsize [module]' (kallsyms.c:262-315 and
    kernel/kallsyms.c __sprint_symbol's " [%s]" for a module)."""
    lay = mod.init_layout if _within(mod.init_layout, addr) else mod.core_layout
    nextval = lay.base + lay.text_size
    best, bestval = None, 0
    for name, value in _symbol_values(mod):
        if bestval < value <= addr:
            best, bestval = name, value
        if addr < value < nextval:
            nextval = value
    if best is None:
        return f"0x{addr:x}"
    return f"{best}+0x{addr - bestval:x}/0x{nextval - bestval:x} [{mod.name}]"


def _module_raw(mod) -> bytes | None:
    """The .ko's bytes: kept by the loader, else read again from the path it came from."""
    raw = getattr(mod, "raw", None)
    if raw:
        return raw
    try:
        from kcourse.kernel.image import read_source

        return read_source(Path(mod.image.source))[1]
    except (OSError, ValueError, Exception):  # noqa: BLE001 - <memory>, a removed file
        return None


def unreadable_at(mod, start: int, length: int) -> int | None:
    """The first byte of [start, start+length) outside the module's mapped layouts, or None.
    copy_from_kernel_nofault (mm/maccess.c) reads 8 bytes at a time from `start`, so the
    load that faults begins there or straddles into the unmapped page: either way CR2 then
    holds this address (the real report's register dump shows it: CR2 = ip - 42)."""
    spans = [(lay.base, lay.base + page_align(lay.size)) for lay in
             (mod.core_layout, mod.init_layout) if lay.base]
    for addr in range(start, start + length):
        if not any(lo <= addr < hi for lo, hi in spans):
            return addr
    return None


def memory_bytes(mod, start: int, length: int) -> bytes | None:
    """copy_from_kernel_nofault of module memory: None if any byte is unmapped."""
    if unreadable_at(mod, start, length) is not None:
        return None
    buf = bytearray(length)
    raw = _module_raw(mod)
    if raw is None:
        return bytes(buf)
    sections = {s.index: s for s in mod.image.sections}
    for loaded in mod.sections:
        sec = sections.get(loaded.index)
        if sec is None or sec.type == 8:  # SHT_NOBITS: zeros
            continue
        data = raw[sec.offset:sec.offset + sec.size]
        lo, hi = max(start, loaded.address), min(start + length, loaded.address + len(data))
        if lo < hi:
            buf[lo - start:hi - start] = data[lo - loaded.address:hi - loaded.address]
    return bytes(buf)


def code_line(mod, ip: int) -> str:
    """show_opcodes (dumpstack.c:113-135) for an ip inside `mod`."""
    prologue = ip - PROLOGUE_SIZE
    code = memory_bytes(mod, prologue, OPCODE_BUFSIZE)
    if code is None:
        return f"Code: Unable to access opcode bytes at 0x{prologue:x}."
    hexes = " ".join(f"{b:02x}" for b in code[:PROLOGUE_SIZE])
    tail = " ".join(f"{b:02x}" for b in code[PROLOGUE_SIZE + 1:])
    return f"Code: {hexes} <{code[PROLOGUE_SIZE]:02x}> {tail}"


def fault_site(mod, section: str, offset: int) -> tuple[int, str, str, int | None]:
    """(ip, RIP text, Code: line, CR2 after show_opcodes or None) for the instruction at
    `offset` in `section` of `mod`."""
    ip = section_address(mod, section) + offset
    return (ip, kallsyms_lookup(mod, ip), code_line(mod, ip),
            unreadable_at(mod, ip - PROLOGUE_SIZE, OPCODE_BUFSIZE))
