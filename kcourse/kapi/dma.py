"""The DMA mapping API over dma-direct (kernel/dma/mapping.c, kernel/dma/direct.c), and the
memory layout variables that virt_to_page() and __pa() read (arch/x86/mm/init_64.c,
arch/x86/kernel/head64.c).

The lab's QEMU machine has no IOMMU, so a device has no dma_map_ops and every call goes
direct: a DMA address is the physical address (no memory encryption). dma_direct_supported
takes any mask of 32 bits or more, and a smaller one down to ZONE_DMA's 24 bits. The guest's
512 MiB all sit below 4 GiB, so any mask of 32 bits or more reaches every page and nothing is
bounced through swiotlb; a mask below 32 bits would need swiotlb, which is not modelled
(the call stops with one line).

Addresses follow the direct map the simulator uses (kcourse.kernel.memory): Debian's layout
without KASLR, page_offset_base 0xffff888000000000, vmemmap_base 0xffffea0000000000,
vmalloc_base 0xffffc90000000000, and phys_base 0 (the kernel runs where it was linked).
struct page is 64 bytes, so virt_to_page(x) = vmemmap_base + (__pa(x) >> 12) * 64.
"""

from __future__ import annotations

from kcourse.kapi import devres, kwarn
from kcourse.kapi.registry import data, function
from kcourse.kernel import memory
from kcourse.kernel import structs as S
from kcourse.kernel.kernel import SimulatorLimit

PAGE_OFFSET = memory.DIRECT_MAP_BASE
VMEMMAP_START = 0xFFFF_EA00_0000_0000
VMALLOC_START = memory.VMALLOC_START
VMALLOC_END = VMALLOC_START + (32 << 40) - 1  # VMALLOC_SIZE_TB 32 (pgtable_64_types.h)
PAGE_SHIFT, STRUCT_PAGE = 12, S.sizeof("page")
DMA_MAPPING_ERROR = (1 << 64) - 1
EIO = 5
ZONE_DMA_BITS = 24  # arch/x86/mm/init.c zone_dma_bits (ZONE_DMA: the first 16 MiB)
DEV = {f: S.offsetof("device", f) for f in ("dma_mask", "coherent_dma_mask", "dma_ops")}
__GFP_ZERO = 0x100


def _u64(value: int) -> bytes:
    return value.to_bytes(8, "little")


@data("unsigned long page_offset_base", "arch/x86/kernel/head64.c", 8)
def page_offset_base(machine, address):
    return _u64(PAGE_OFFSET)


@data("unsigned long vmemmap_base", "arch/x86/kernel/head64.c", 8)
def vmemmap_base(machine, address):
    return _u64(VMEMMAP_START)


@data("unsigned long vmalloc_base", "arch/x86/kernel/head64.c", 8)
def vmalloc_base(machine, address):
    return _u64(VMALLOC_START)


@data("unsigned long phys_base", "arch/x86/kernel/head_64.S", 8)
def phys_base(machine, address):
    return _u64(0)


@function("bool is_vmalloc_addr(const void *x)", "mm/vmalloc.c")
def is_vmalloc_addr(call, x):
    return VMALLOC_START <= x < VMALLOC_END


def _supported(mask: int) -> bool:
    """dma_direct_supported (kernel/dma/direct.c)."""
    return mask >= (1 << 32) - 1 or mask >= (1 << ZONE_DMA_BITS) - 1


def _direct(call, dev: int) -> None:
    if call.machine.space.read_u64(dev + DEV["dma_ops"]):
        raise SimulatorLimit(f"kcourse: {call.site} maps DMA for a device with its own "
                             "dma_map_ops, which the simulator does not model")


@function("int dma_set_mask(struct device *dev, u64 mask)", "kernel/dma/mapping.c")
def dma_set_mask(call, dev, mask):
    _direct(call, dev)
    at = call.machine.space.read_u64(dev + DEV["dma_mask"])
    if not at or not _supported(mask):
        return -EIO
    call.machine.space.write_u64(at, mask)
    return 0


@function("int dma_set_coherent_mask(struct device *dev, u64 mask)", "kernel/dma/mapping.c")
def dma_set_coherent_mask(call, dev, mask):
    _direct(call, dev)
    if not _supported(mask):
        return -EIO
    call.machine.space.write_u64(dev + DEV["coherent_dma_mask"], mask)
    return 0


def _reach(call, mask: int, what: str) -> None:
    if mask < (1 << 32) - 1:
        raise SimulatorLimit(f"kcourse: {call.site} {what} with a DMA mask of {mask:#x}: "
                             "below 32 bits the kernel bounces through swiotlb, which the "
                             "simulator does not model")


@function("dma_addr_t dma_map_page_attrs(struct device *dev, struct page *page, "
          "size_t offset, size_t size, enum dma_data_direction dir, unsigned long attrs)",
          "kernel/dma/mapping.c")
def dma_map_page_attrs(call, dev, page, offset, size, dir, attrs):
    """dma_direct_map_page: page_to_phys(page) + offset (x86 DMA is cache-coherent: no
    sync)."""
    at = call.machine.space.read_u64(dev + DEV["dma_mask"])
    if not at:
        kwarn.warn_on(call, "kernel/dma/mapping.c:152", "dma_map_page_attrs")
        return DMA_MAPPING_ERROR
    _direct(call, dev)
    _reach(call, call.machine.space.read_u64(at), "maps a page")
    return ((page - VMEMMAP_START) // STRUCT_PAGE << PAGE_SHIFT) + offset


@function("void dma_unmap_page_attrs(struct device *dev, dma_addr_t addr, size_t size, "
          "enum dma_data_direction dir, unsigned long attrs)", "kernel/dma/mapping.c")
def dma_unmap_page_attrs(call, dev, addr, size, dir, attrs):
    _direct(call, dev)  # dma_direct_unmap_page: nothing to undo without swiotlb


def _order(size: int) -> int:
    return max((size - 1) >> PAGE_SHIFT, 0).bit_length()


def alloc_coherent(call, dev: int, size: int, handle_at: int, gfp: int) -> int:
    """dma_alloc_attrs -> dma_direct_alloc: zeroed pages (order of the size), the handle
    their physical address, written to *dma_handle."""
    from kcourse.kapi import slab

    _direct(call, dev)
    _reach(call, call.machine.space.read_u64(dev + DEV["coherent_dma_mask"]),
           "allocates coherent memory")
    vaddr = slab.__get_free_pages(call, gfp | __GFP_ZERO, _order(size))
    if vaddr:
        call.machine.space.write_u64(handle_at, vaddr - PAGE_OFFSET)
    return vaddr


@function("void *dma_alloc_attrs(struct device *dev, size_t size, dma_addr_t *dma_handle, "
          "gfp_t flag, unsigned long attrs)", "kernel/dma/mapping.c")
def dma_alloc_attrs(call, dev, size, dma_handle, flag, attrs):
    return alloc_coherent(call, dev, size, dma_handle, flag)


@function("void dma_free_attrs(struct device *dev, size_t size, void *cpu_addr, "
          "dma_addr_t dma_handle, unsigned long attrs)", "kernel/dma/mapping.c")
def dma_free_attrs(call, dev, size, cpu_addr, dma_handle, attrs):
    from kcourse.kapi import slab

    if cpu_addr:
        slab.free_pages(call, cpu_addr, _order(size))


@function("void *dmam_alloc_attrs(struct device *dev, size_t size, dma_addr_t *dma_handle, "
          "gfp_t gfp, unsigned long attrs)", "kernel/dma/mapping.c")
def dmam_alloc_attrs(call, dev, size, dma_handle, gfp, attrs):
    """devres_alloc(dmam_release, sizeof(struct dma_devres)) and dma_alloc_attrs."""
    from kcourse.kapi import slab

    dr = slab._kmalloc(call, devres.DEVRES_HEADER + 32, gfp)
    if not dr:
        return 0
    vaddr = alloc_coherent(call, dev, size, dma_handle, gfp)
    if not vaddr:
        slab.kfree(call, dr)
        return 0

    def release():
        slab.free_pages(call, vaddr, _order(size))
        slab.kfree(call, dr)

    devres.add(call.machine, dev, dr + devres.DEVRES_HEADER, release)
    return vaddr
