"""module_alloc(): the x86-64 module area, 0xffffffffc0000000 up to MODULES_END.

arch/x86/kernel/module.c (6.1) allocates with __vmalloc_node_range from MODULES_VADDR plus a
KASLR offset chosen once per boot, (prandom_u32_max(1024) + 1) * PAGE_SIZE; vmalloc gives
each area a guard page after it and takes the lowest free range that fits. Here the offset
comes from the kernel's seed, so addresses are plausible and reproducible.
"""

from __future__ import annotations

import random

PAGE_SIZE = 4096
MODULES_VADDR = 0xFFFFFFFFC0000000
MODULES_END = 0xFFFFFFFFFF000000


class ModuleArea:
    def __init__(self, seed: int = 0):
        rng = random.Random(f"kaslr:{seed}")
        self.start = MODULES_VADDR + (rng.randrange(1024) + 1) * PAGE_SIZE
        self._used: dict[int, int] = {}  # address -> size incl. guard page
        self._top = self.start  # everything at or above is free
        self._holes: list[tuple[int, int]] = []  # free ranges below _top, sorted

    def alloc(self, size: int) -> int:
        """Lowest free range that fits (vmalloc's first fit), with a guard page after it."""
        need = (size + PAGE_SIZE - 1) // PAGE_SIZE * PAGE_SIZE + PAGE_SIZE
        for i, (addr, length) in enumerate(self._holes):
            if length >= need:
                if length == need:
                    del self._holes[i]
                else:
                    self._holes[i] = (addr + need, length - need)
                self._used[addr] = need
                return addr
        addr = self._top
        if addr + need > MODULES_END:
            raise MemoryError("module area exhausted")
        self._top += need
        self._used[addr] = need
        return addr

    def free(self, addr: int) -> None:
        size = self._used.pop(addr, None)
        if size is None:
            return
        holes = self._holes
        holes.append((addr, size))
        holes.sort()
        merged: list[tuple[int, int]] = []
        for a, n in holes:
            if merged and merged[-1][0] + merged[-1][1] == a:
                merged[-1] = (merged[-1][0], merged[-1][1] + n)
            else:
                merged.append((a, n))
        if merged and merged[-1][0] + merged[-1][1] == self._top:
            self._top = merged.pop()[0]
        self._holes = merged

    # ------------------------------------------------------------------ per module
    def alloc_module(self, mod) -> None:
        """move_module: core first, then init (if any)."""
        mod.core_layout.base = self.alloc(mod.core_layout.size)
        mod.init_layout.base = self.alloc(mod.init_layout.size) if mod.init_layout.size else 0

    def free_init(self, mod) -> None:
        """do_init_module: init memory is freed and init_layout zeroed."""
        if mod.init_layout.base:
            self.free(mod.init_layout.base)
        lay = mod.init_layout
        lay.base = lay.size = lay.text_size = lay.ro_size = lay.ro_after_init_size = 0

    def free_module(self, mod) -> None:
        if mod.init_layout.base:
            self.free(mod.init_layout.base)
        if mod.core_layout.base:
            self.free(mod.core_layout.base)

    def snapshot(self) -> tuple:
        return tuple(sorted(self._used.items()))
