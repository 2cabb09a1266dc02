"""Functions Debian's zsmalloc (and zram) call only for a memory pool's pages, declared so
that their init and exit run; each stops with one line if it is called.

mm/zsmalloc.c zs_init and zs_exit reach only kcourse.kapi.cpuhp and kcourse.kapi.zpool
(CONFIG_ZSMALLOC_STAT is not set in Debian's config: no debugfs directory). The functions
below are called from a pool: zs_create_pool (register_shrinker), zs_malloc and zs_free
(the zone counters, movable pages; alloc_pages and __free_pages, declared with the other
struct page functions in kcourse.kapi.page_stops), zs_page_migrate and zs_compact (page
locks, folio references) and zs_destroy_pool (unregister_shrinker). The
only caller of zs_create_pool here is zram, from a write of /sys/block/zramN/disksize
(disksize_store -> zram_meta_alloc); zram's own reads and writes of pages (its bio path,
kcourse.kapi.zram_stops) use alloc_pages and __free_pages too. Allocating pages for a
pool is not modelled, so none of them runs here.

node_data, read only on those paths (NODE_DATA(nid) of page_zone/page_pgdat), is given
zeroed storage; put_page's static keys are in kcourse.kapi.page_stops.
"""

from __future__ import annotations

from kcourse.kapi.registry import data
from kcourse.kapi.stops import declare, unmodelled

WHY = ("not modelled: only a zsmalloc pool's pages reach it (a zram disk given a size, or "
       "its I/O)")
POOL_PATH = (
    ("void __SetPageMovable(struct page *page, const struct movable_operations *mops)",
     "mm/compaction.c"),
    ("void __ClearPageMovable(struct page *page)", "mm/compaction.c"),
    ("void inc_zone_page_state(struct page *page, enum zone_stat_item item)", "mm/vmstat.c"),
    ("void dec_zone_page_state(struct page *page, enum zone_stat_item item)", "mm/vmstat.c"),
    ("void folio_wait_bit(struct folio *folio, int bit_nr)", "mm/filemap.c"),
    ("int register_shrinker(struct shrinker *shrinker, const char *fmt, ...)", "mm/vmscan.c"),
    ("void unregister_shrinker(struct shrinker *shrinker)", "mm/vmscan.c"),
)


declare(POOL_PATH, WHY,
        unmodelled("a zsmalloc pool's pages: allocating them is not modelled"), __name__)


@data("struct pglist_data *node_data[MAX_NUMNODES]", "arch/x86/mm/numa.c", 8 << 10)
def node_data(machine, address):
    return bytes(8 << 10)  # CONFIG_NODES_SHIFT=10; read only for a page's zone (a stop)
