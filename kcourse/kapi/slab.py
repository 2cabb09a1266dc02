"""kmalloc, kfree, vmalloc and the page allocator, into the Kernel's memory ledger.

The ledger (kcourse.kernel.memory) keeps who owns what with 6.1's size classes; here the
allocation also becomes memory the module can use: its pages are mapped in the emulated
address space, zero-filled (Debian's 6.1 sets CONFIG_INIT_ON_ALLOC_DEFAULT_ON=y, so even
kmalloc memory starts zeroed: mm/slab.h slab_want_init_on_alloc). Freed slab memory stays
mapped, as in the real kernel (a use after kfree reads stale or reused bytes, it does not
fault); vfree unmaps the area (mm/vmalloc.c), so a use after vfree faults.

kmalloc() is inline (include/linux/slab.h): for a constant size it indexes
kmalloc_caches[kmalloc_type(flags)][kmalloc_index(size)] and calls kmalloc_trace(); else it
calls __kmalloc(). The ledger distinguishes only whether the flags may sleep, so the flags
are reduced to that: __GFP_DIRECT_RECLAIM set is GFP_KERNEL's kind, __GFP_HIGH without it
GFP_ATOMIC's, anything else GFP_NOWAIT's (include/linux/gfp_types.h).
"""

from __future__ import annotations

from kcourse.kapi.registry import data, function
from kcourse.machine.address_space import OutOfMemory

__GFP_HIGH, __GFP_ZERO, __GFP_DIRECT_RECLAIM = 0x20, 0x100, 0x400
KMALLOC_SHIFT_HIGH = 13  # PAGE_SHIFT + 1 with SLUB (include/linux/slab.h)
NR_KMALLOC_TYPES = 4  # NORMAL, CGROUP (MEMCG_KMEM=y), RECLAIM, DMA (ZONE_DMA=y)
KMEM_CACHE_SIZE = 64  # the caches are opaque to modules; one small object each


def gfp_name(flags: int) -> str:
    if flags & __GFP_DIRECT_RECLAIM:
        return "GFP_KERNEL"
    return "GFP_ATOMIC" if flags & __GFP_HIGH else "GFP_NOWAIT"


@data("struct kmem_cache *kmalloc_caches[NR_KMALLOC_TYPES][KMALLOC_SHIFT_HIGH + 1]",
      "mm/slab_common.c", 8 * NR_KMALLOC_TYPES * (KMALLOC_SHIFT_HIGH + 1))
def kmalloc_caches(machine, address):
    count = NR_KMALLOC_TYPES * (KMALLOC_SHIFT_HIGH + 1)
    caches = address + 8 * count
    machine.space.map(caches, KMEM_CACHE_SIZE * count)
    return b"".join((caches + KMEM_CACHE_SIZE * i).to_bytes(8, "little") for i in range(count))


def _allocated(call, alloc) -> int:
    """Back a ledger allocation with emulated memory; NULL when the machine's RAM (the lab's
    guest has 512 MiB; the emulated RAM is bounded too) cannot hold it."""
    if alloc is None:
        return 0
    if alloc.allocated:
        try:
            call.machine.space.map(alloc.address, alloc.allocated)
        except OutOfMemory:
            call.kernel.memory.rollback(alloc.owner, alloc.id - 1)
            return 0
        call.machine.space.write(alloc.address, bytes(alloc.allocated))
    owner = call.caller.name if call.caller else "kernel"
    call.kernel.event("alloc", owner, alloc.requested)
    return alloc.address


def _kmalloc(call, size: int, flags: int) -> int:
    owner = call.caller.name if call.caller else "kernel"
    alloc = call.kernel.memory.kmalloc(owner=owner, size=size, gfp=gfp_name(flags),
                                       site=call.site, zero=bool(flags & __GFP_ZERO))
    return _allocated(call, alloc)


@function("void *kmalloc_trace(struct kmem_cache *s, gfp_t flags, size_t size)",
          "mm/slab_common.c")
def kmalloc_trace(call, s, flags, size):
    return _kmalloc(call, size, flags)


@function("void *__kmalloc(size_t size, gfp_t flags)", "mm/slab_common.c")
def __kmalloc(call, size, flags):
    return _kmalloc(call, size, flags)


@function("void *kmalloc_large(size_t size, gfp_t flags)", "mm/slab_common.c")
def kmalloc_large(call, size, flags):
    return _kmalloc(call, size, flags)


@function("void kfree(const void *objp)", "mm/slab_common.c")
def kfree(call, objp):
    memory = call.kernel.memory
    alloc = next((a for a in memory.outstanding() if a.address == objp), None)
    memory.kfree(objp)
    if alloc is not None:
        call.kernel.event("free", alloc.owner, alloc.requested)


@function("void *vmalloc(unsigned long size)", "mm/vmalloc.c")
def vmalloc(call, size):
    owner = call.caller.name if call.caller else "kernel"
    return _allocated(call, call.kernel.memory.vmalloc(owner=owner, size=size, site=call.site))


@function("void *vzalloc(unsigned long size)", "mm/vmalloc.c")
def vzalloc(call, size):
    return vmalloc(call, size)  # vmalloc memory is zeroed here either way (see above)


@function("void vfree(const void *addr)", "mm/vmalloc.c")
def vfree(call, addr):
    memory = call.kernel.memory
    alloc = next((a for a in memory.outstanding() if a.address == addr), None)
    memory.vfree(addr)
    if alloc is not None:
        call.machine.space.unmap(alloc.address, alloc.allocated)
        call.kernel.event("free", alloc.owner, alloc.requested)


@function("unsigned long __get_free_pages(gfp_t gfp_mask, unsigned int order)",
          "mm/page_alloc.c")
def __get_free_pages(call, gfp_mask, order):
    owner = call.caller.name if call.caller else "kernel"
    alloc = call.kernel.memory.get_free_pages(owner=owner, order=order,
                                              gfp=gfp_name(gfp_mask), site=call.site)
    return _allocated(call, alloc)


@function("unsigned long get_zeroed_page(gfp_t gfp_mask)", "mm/page_alloc.c")
def get_zeroed_page(call, gfp_mask):
    return __get_free_pages(call, gfp_mask | __GFP_ZERO, 0)


@function("void free_pages(unsigned long addr, unsigned int order)", "mm/page_alloc.c")
def free_pages(call, addr, order):
    memory = call.kernel.memory
    alloc = next((a for a in memory.outstanding() if a.address == addr), None)
    memory.free_pages(addr, order)
    if alloc is not None:
        call.kernel.event("free", alloc.owner, alloc.requested)
