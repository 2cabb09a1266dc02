"""A module's code and data in the emulated address space, placed and relocated as 6.1 does.

kernel/module/main.c load_module() -> layout_and_allocate() -> move_module() copies every
SHF_ALLOC section to the address layout_sections() gave it (Module.sections: core and init
areas from module_alloc, zero-filled, SHT_NOBITS sections left as zeros); simplify_symbols()
turns each symbol's st_value into an absolute address (its section's address plus st_value,
or for an undefined symbol what resolve_symbol found: another module's export or the
kernel's); apply_relocations() patches the copies (kcourse.machine.relocate).

ModuleCode then knows where each of the module's symbols is, so the simulator can call
`init_module` and `cleanup_module` (the aliases module_init()/module_exit() define,
include/linux/module.h) and any function a file_operations table points to.
"""

from __future__ import annotations

from kcourse.elf import elf64
from kcourse.kernel import faultsite
from kcourse.kernel.layout import page_align
from kcourse.machine import cpu as C
from kcourse.machine.relocate import apply_relocations

SHN_UNDEF, SHN_ABS, SHN_COMMON = 0, 0xFFF1, 0xFFF2
PAGE_SIZE = 4096
# The first per-CPU chunk: the kernel's static per-CPU data (vmlinux's .data..percpu is
# 0x35000 bytes on 6.1.0-56-amd64, linked at 0), then PERCPU_MODULE_RESERVE (8 KiB,
# include/linux/percpu.h) for modules' DEFINE_PER_CPU variables.
PERCPU_STATIC_SIZE, PERCPU_MODULE_RESERVE = 0x35000, 8 << 10
STT_SECTION = 3
# arch/x86/include/asm/nops.h BYTES_NOP5: what ftrace writes over each `call __fentry__`
NOP5 = bytes([0x0F, 0x1F, 0x44, 0x00, 0x00])
CALL_REL32 = 0xE8


class ModuleCode:
    def __init__(self, machine, module, elf: bytes, resolve):
        """resolve(name) -> address of an undefined symbol (another module's export, or the
        kernel's: machine.kernel_symbol)."""
        self.machine, self.module, self.elf = machine, module, elf
        self.areas = [(lay.base, page_align(lay.size)) for lay in
                      (module.core_layout, module.init_layout) if lay.base and lay.size]
        image = module.image
        placed = {sec.index: sec.address for sec in module.sections}
        pcpu = image.find_sec(".data..percpu") if _has_section(image, ".data..percpu") else 0
        self.percpu = self.percpu_size = 0
        if pcpu:
            self._percpu_alloc(image.sections[pcpu])
        values: list[int] = []
        for name, value, _info, shndx in image.symbols:
            if shndx == SHN_UNDEF:
                values.append(resolve(name) if name else 0)
            elif shndx == SHN_ABS:
                values.append(value)
            elif pcpu and shndx == pcpu:
                values.append(self.percpu + value)
            else:
                values.append(placed.get(shndx, 0) + value)
        self.symbol_values = values
        self.symbols = {name: values[i] for i, (name, _v, info, shndx) in
                        enumerate(image.symbols) if name and shndx != SHN_UNDEF and
                        info & 0xF != STT_SECTION}
        sections = image.sections
        contents: dict[int, bytearray] = {}
        for loaded in module.sections:
            sec = sections[loaded.index]
            contents[loaded.index] = bytearray(sec.size) if sec.type == elf64.SHT_NOBITS \
                else bytearray(elf64.section_bytes(elf, sec))
        apply_relocations(module.name, elf, sections, contents, placed,
                          lambda i: values[i] if i < len(values) else 0)
        space = machine.space
        for base, size in self.areas:
            space.map(base, size)
        for loaded in module.sections:
            if contents[loaded.index]:
                space.write(loaded.address, bytes(contents[loaded.index]))
        self.this_module = placed.get(image.this_module_index, 0)
        self._nop_fentry_calls(contents, resolve("__fentry__"))
        # CONFIG_STRICT_MODULE_RWX (kernel/module/strict_rwx.c module_enable_ro): text and
        # rodata read-only from the start; ro_after_init stays writable until init is done
        for lay in (module.core_layout, module.init_layout):
            if lay.base and lay.ro_size:
                space.protect(lay.base, lay.ro_size, writable=False)

    def _nop_fentry_calls(self, contents: dict[int, bytearray], fentry: int) -> None:
        """ftrace_module_init (kernel/trace/ftrace.c ftrace_process_locs, at load_module,
        before init runs): every call site listed in __mcount_loc becomes a 5-byte NOP while
        no tracer is on (arch/x86/kernel/ftrace.c ftrace_make_nop, which first checks that
        the bytes there are the call to __fentry__)."""
        space = self.machine.space
        for loaded in self.module.sections:
            if loaded.name != "__mcount_loc":
                continue
            table = contents.get(loaded.index, b"")
            for at in range(0, len(table) - 7, 8):
                site = int.from_bytes(table[at:at + 8], "little")
                if not self.contains(site):
                    continue
                code = space.read(site, 5)
                rel = int.from_bytes(code[1:5], "little", signed=True)
                if code[0] == CALL_REL32 and site + 5 + rel == fentry:
                    space.write(site, NOP5)

    def init_done(self) -> None:
        """do_init_module -> module_enable_ro(mod, true): ro_after_init becomes read-only."""
        lay = self.module.core_layout
        if lay.base and lay.ro_after_init_size > lay.ro_size:
            self.machine.space.protect(lay.base + lay.ro_size,
                                       lay.ro_after_init_size - lay.ro_size, writable=False)

    # ------------------------------------------------------------------ lookups
    def contains(self, address: int) -> bool:
        return any(base <= address < base + size for base, size in self.areas)

    def address(self, name: str) -> int | None:
        return self.symbols.get(name)

    def symbolize(self, address: int) -> str:
        return faultsite.kallsyms_lookup(self.module, address)

    def free_init(self) -> None:
        """do_init_module frees the init area (after init returned 0)."""
        self.init_done()
        lay = self.module.init_layout
        if lay.base:
            self.machine.space.unmap(lay.base, page_align(lay.size))
            self.areas = [a for a in self.areas if a[0] != lay.base]

    def unmap(self) -> None:
        """free_module: the module's memory goes; a pointer into it now faults."""
        for base, size in self.areas:
            self.machine.space.unmap(base, size)
        self.areas = []
        if self.percpu_size:  # percpu_modfree
            self.machine.space.write(C.PERCPU + self.percpu, bytes(self.percpu_size))
            _reserved(self.machine).pop(self.percpu, None)
            self.percpu_size = 0

    def _percpu_alloc(self, sec) -> None:
        """percpu_modalloc (kernel/module/main.c): the module's .data..percpu gets room in
        the first chunk's reserved area (__alloc_reserved_percpu), right after the kernel's
        static per-CPU data, and percpu_modcopy copies the section's bytes there. A symbol
        of the section is then that per-CPU offset plus its value (simplify_symbols), which
        `%gs:` accesses and per_cpu_ptr() use as they do a kernel per-CPU variable's. The
        copy is made for CPU 0 only (the lab's guest has one CPU)."""
        if not sec.size:
            return
        align = min(max(sec.align, 1), PAGE_SIZE)  # "per-cpu alignment %li > %li"
        taken = sorted(_reserved(self.machine).items())
        at = PERCPU_STATIC_SIZE
        for start, size in taken:
            if (at + align - 1) // align * align + sec.size <= start:
                break
            at = start + size
        at = (at + align - 1) // align * align
        if at + sec.size > PERCPU_STATIC_SIZE + PERCPU_MODULE_RESERVE:
            from kcourse.kernel.kernel import SimulatorLimit

            raise SimulatorLimit(f"kcourse: {self.module.name}: its {sec.size} bytes of "
                                 "per-CPU data do not fit in the modules' reserved per-CPU "
                                 "area (PERCPU_MODULE_RESERVE, 8 KiB); the kernel says "
                                 "\"Could not allocate ... percpu data\" and fails with "
                                 "-ENOMEM, which the simulator does not model; run it on the "
                                 "real kernel with `kcourse sim --real`")
        _reserved(self.machine)[at] = sec.size
        self.percpu, self.percpu_size = at, sec.size
        if sec.type != elf64.SHT_NOBITS:
            self.machine.space.write(C.PERCPU + at, bytes(elf64.section_bytes(self.elf, sec)))


def _reserved(machine) -> dict[int, int]:
    return machine.objects.setdefault("module_percpu", {})  # per-CPU offset -> size


def _has_section(image, name: str) -> bool:
    return any(s.name == name for s in image.sections)
