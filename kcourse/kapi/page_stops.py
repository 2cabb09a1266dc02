"""struct page functions and the static keys put_page reads, declared so that modules which
call them only for pages (a mounted file system's page cache, a zsmalloc pool's pages) can
run their init and exit; each function stops with one line if it is called.

kcourse models kmalloc, vmalloc and __get_free_pages into the memory ledger
(kcourse.kapi.slab), not the page allocator's struct pages or the page cache. Their callers
here: isofs's mount path (kcourse.kapi.fs_stops: zisofs's pages, readahead) and zsmalloc's
pool (kcourse.kapi.zsmalloc_stops: zs_malloc, zs_free, page migration), reached only from
mount(2), which the shell has not, or from a zram disk given a size.

The static keys devmap_managed_key and hugetlb_optimize_vmemmap_key (put_page's branches, in
the modules' __jump_table) are disabled, as on the lab's guest (no ZONE_DEVICE memory;
CONFIG_HUGETLB_PAGE_OPTIMIZE_VMEMMAP_DEFAULT_ON is not set).
"""

from __future__ import annotations

from kcourse.kapi.registry import data
from kcourse.kapi.stops import declare, unmodelled
from kcourse.kernel import structs as S

WHY = ("not modelled: only code that allocates or frees struct pages reaches it (a mounted "
       "file system's page cache, a zsmalloc pool's pages)")
PAGES = (
    ("struct page *alloc_pages(gfp_t gfp, unsigned int order)", "mm/mempolicy.c"),
    ("void __free_pages(struct page *page, unsigned int order)", "mm/page_alloc.c"),
    ("void __folio_put(struct folio *folio)", "mm/swap.c"),
    ("bool __put_devmap_managed_page_refs(struct page *page, int refs)", "mm/memremap.c"),
    ("void unlock_page(struct page *page)", "mm/folio-compat.c"),
)


declare(PAGES, WHY, unmodelled("struct pages: kcourse models kmalloc and vmalloc, not the page "
                               "allocator or the page cache"), __name__)


STATIC_KEY = S.sizeof("static_key")


@data("struct static_key_false devmap_managed_key", "mm/memremap.c", STATIC_KEY)
def devmap_managed_key(machine, address):
    return bytes(STATIC_KEY)  # enabled 0: no ZONE_DEVICE page has a devmap-managed owner


@data("struct static_key_false hugetlb_optimize_vmemmap_key", "mm/hugetlb_vmemmap.c",
      STATIC_KEY)
def hugetlb_optimize_vmemmap_key(machine, address):
    return bytes(STATIC_KEY)  # enabled 0: hugetlb_free_vmemmap is off by default (Debian)
