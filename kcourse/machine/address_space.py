"""One kernel address space: emulated physical RAM and x86-64 4-level page tables over it.

unicorn fetches nothing at canonical high addresses with paging off, so the machine runs with
paging on (CR0.PG, CR4.PAE, EFER.LME/LMA) and builds real page tables: PML4 -> PDPT -> PD ->
PT, 4 KiB pages (arch/x86/include/asm/pgtable_types.h: _PAGE_PRESENT, _PAGE_RW). Module code
then sits at the addresses the loader gives it (0xffffffffc0...), kmalloc memory in the direct
map (0xffff888...), vmalloc areas and kernel stacks at 0xffffc90..., as on Debian's kernel.

User memory is never mapped here, which is how SMAP looks from module code: a dereference of a
user pointer faults on the module's own instruction (unicorn does not enforce CR4.SMAP itself;
../shared/notes/emulation.md). copy_to_user and friends reach user memory from Python.

unicorn's mem_read/mem_write take physical addresses once paging is on, so reads and writes
from Python go through `translate`, which walks this object's own record of the mappings.
Physical memory is bounded (`ram_bytes`): a module that asks for more gets NULL, never the
host's memory.
"""

from __future__ import annotations

import ctypes
import mmap
import struct

PAGE_SIZE = 4096
UC_PROT_ALL = 7  # unicorn_const.UC_PROT_READ | UC_PROT_WRITE | UC_PROT_EXEC
PAGE_MASK = ~(PAGE_SIZE - 1)
PTE_PRESENT, PTE_RW = 0x1, 0x2
PTE_ADDR = 0x000F_FFFF_FFFF_F000
ENTRY = struct.Struct("<Q")


class OutOfMemory(Exception):
    """Emulated physical memory is exhausted (the module asked for more than the machine has)."""


class AddressSpace:
    def __init__(self, uc, ram_bytes: int = 256 << 20):
        self.uc = uc
        self.ram_bytes = ram_bytes
        # The guest's RAM is host memory of ours (an anonymous mapping: zero pages until
        # touched, as unicorn's own would be), so Python reads it without a call into
        # unicorn. Writes still go through uc_mem_write, which drops translated code it hits.
        self._ram = mmap.mmap(-1, ram_bytes)
        uc.mem_map_ptr(0, ram_bytes, UC_PROT_ALL,
                       ctypes.addressof(ctypes.c_char.from_buffer(self._ram)))
        uc._kcourse_ram = self._ram  # lives as long as the CPU that runs on it
        self._next_frame = PAGE_SIZE  # frame 0 stays unused: a zero physical address is a bug
        self._free_frames: list[int] = []
        self.pages: dict[int, int] = {}  # virtual page -> physical frame
        self._upper: dict[int, int] = {}  # PML4/PDPT/PD slot address -> its entry
        self.pml4 = self._frame()

    # ------------------------------------------------------------------ frames
    def _frame(self) -> int:
        if self._free_frames:
            frame = self._free_frames.pop()
            self.uc.mem_write(frame, bytes(PAGE_SIZE))
            return frame
        if self._next_frame + PAGE_SIZE > self.ram_bytes:
            raise OutOfMemory(f"emulated RAM ({self.ram_bytes >> 20} MiB) is full")
        frame, self._next_frame = self._next_frame, self._next_frame + PAGE_SIZE
        return frame

    # ------------------------------------------------------------------ mapping
    def map(self, address: int, size: int, data: bytes = b"") -> None:
        """Map [address, address+size) read-write (zero-filled, then `data` at the start).
        Pages already mapped keep their contents."""
        start = address & PAGE_MASK
        end = (address + size + PAGE_SIZE - 1) & PAGE_MASK
        for page in range(start, end, PAGE_SIZE):
            if page not in self.pages:
                frame = self._frame()
                self._set_pte(page, frame | PTE_PRESENT | PTE_RW)
                self.pages[page] = frame
        if data:
            self.write(address, data)

    def protect(self, address: int, size: int, writable: bool) -> None:
        """Set or clear the RW bit of mapped pages (set_memory_ro/rw, as
        kernel/module/strict_rwx.c does to a module's text, rodata and ro_after_init). With
        CR0.WP on, a write from module code to a read-only page faults. Python's own writes
        (the loader's, kapi's) go to the frames and are not affected."""
        start = address & PAGE_MASK
        end = (address + size + PAGE_SIZE - 1) & PAGE_MASK
        for page in range(start, end, PAGE_SIZE):
            frame = self.pages.get(page)
            if frame is not None:
                self._set_pte(page, frame | PTE_PRESENT | (PTE_RW if writable else 0))
        from unicorn.x86_const import UC_X86_REG_CR3

        self.uc.reg_write(UC_X86_REG_CR3, self.pml4)  # flush the TLB

    def unmap(self, address: int, size: int) -> None:
        """Remove the pages of [address, address+size): later accesses fault (vfree, module
        unload). Writing CR3 again flushes the TLB (as the kernel's flush_tlb does) so the
        emulated CPU sees it, and unicorn's cache of translated code is dropped: its frames
        will hold other code or data next."""
        start = address & PAGE_MASK
        end = (address + size + PAGE_SIZE - 1) & PAGE_MASK
        for page in range(start, end, PAGE_SIZE):
            frame = self.pages.pop(page, None)
            if frame is not None:
                self._set_pte(page, 0)
                self._free_frames.append(frame)
        from unicorn.x86_const import UC_X86_REG_CR3

        self.uc.reg_write(UC_X86_REG_CR3, self.pml4)
        self.uc.ctl_flush_tb()

    def is_mapped(self, address: int, size: int = 1) -> bool:
        start = address & PAGE_MASK
        return all(p in self.pages for p in range(start, address + max(size, 1), PAGE_SIZE))

    def _set_pte(self, va: int, value: int) -> None:
        """Write the page-table entry for va, making the upper tables on the way. The upper
        levels' entries are also kept in `_upper` (only this object writes them), which spares
        three reads of emulated memory per page."""
        table = self.pml4
        for shift in (39, 30, 21):
            slot = table + ((va >> shift) & 511) * 8
            entry = self._upper.get(slot, 0)
            if not entry & PTE_PRESENT:
                if not value:
                    return  # nothing mapped below: nothing to clear
                entry = self._frame() | PTE_PRESENT | PTE_RW
                self.uc.mem_write(slot, ENTRY.pack(entry))
                self._upper[slot] = entry
            table = entry & PTE_ADDR
        self.uc.mem_write(table + ((va >> 12) & 511) * 8, ENTRY.pack(value))

    # ------------------------------------------------------------------ access from Python
    def translate(self, address: int) -> int | None:
        frame = self.pages.get(address & PAGE_MASK)
        return None if frame is None else frame | (address & (PAGE_SIZE - 1))

    def read(self, address: int, size: int) -> bytes:
        """Bytes at a kernel virtual address; raises BadAccess if any page is unmapped."""
        ram = self._ram
        out = b""
        while size > 0:
            phys = self.translate(address)
            if phys is None:
                raise BadAccess(address)
            chunk = min(size, PAGE_SIZE - (address & (PAGE_SIZE - 1)))
            out += ram[phys:phys + chunk]
            address, size = address + chunk, size - chunk
        return out

    def write(self, address: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            phys = self.translate(address)
            if phys is None:
                raise BadAccess(address, write=True)
            chunk = min(len(view), PAGE_SIZE - (address & (PAGE_SIZE - 1)))
            self.uc.mem_write(phys, bytes(view[:chunk]))
            address, view = address + chunk, view[chunk:]

    def read_u64(self, address: int) -> int:
        return ENTRY.unpack(self.read(address, 8))[0]

    def write_u64(self, address: int, value: int) -> None:
        self.write(address, ENTRY.pack(value & 0xFFFF_FFFF_FFFF_FFFF))

    def read_cstring(self, address: int, limit: int = 4096) -> bytes:
        """A NUL-terminated string (without the NUL), at most `limit` bytes."""
        out = bytearray()
        while len(out) < limit:
            phys = self.translate(address)
            if phys is None:
                raise BadAccess(address)
            chunk = min(limit - len(out), PAGE_SIZE - (address & (PAGE_SIZE - 1)))
            nul = self._ram.find(b"\0", phys, phys + chunk)
            if nul >= 0:
                return bytes(out) + self._ram[phys:nul]
            out += self._ram[phys:phys + chunk]
            address += chunk
        return bytes(out)


class BadAccess(Exception):
    """Python-side access to an address the kernel's page tables do not map (`write`: a
    store, for the #PF error code of a fault it becomes)."""

    def __init__(self, address: int, write: bool = False):
        super().__init__(f"unmapped kernel address {address:#018x}")
        self.address, self.write = address, write
