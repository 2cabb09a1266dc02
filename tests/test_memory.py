"""The memory ledger against Linux 6.1's allocator rules (x86_64, 4 KiB pages, SLUB).

Sources are Debian's linux-source-6.1 (6.1.192) and linux-headers-6.1.0-56-amd64.
"""

import re

import pytest

from kcourse.errors import KcourseError
from kcourse.kernel.memory import (
    KMALLOC_MAX_CACHE_SIZE,
    KMALLOC_MAX_SIZE,
    ZERO_SIZE_PTR,
    BadFree,
    MemoryLedger,
    get_order,
    kmalloc_size,
)

SITE = "leaker_init+0x1c/0x40 [leaker]"


@pytest.mark.parametrize(
    ("size", "taken"),
    [
        # include/linux/slab.h:414 size <= KMALLOC_MIN_SIZE (8, KMALLOC_SHIFT_LOW=3, slab.h:292)
        (1, 8), (8, 8),
        # slab.h:419-433: 16, 32, 64, the odd 96 and 192 classes, then powers of two
        (9, 16), (33, 64), (65, 96), (96, 96), (97, 128), (100, 128), (128, 128),
        (129, 192), (192, 192), (193, 256), (300, 512), (1000, 1024), (1025, 2048),
        (4000, 4096), (4096, 4096), (4097, 8192), (8192, 8192),
        # above KMALLOC_MAX_CACHE_SIZE: page allocator, PAGE_SIZE << get_order(size)
        # (mm/slab_common.c:923, 1071)
        (8193, 16384), (20000, 32768), (1 << 20, 1 << 20), (KMALLOC_MAX_SIZE, 4 << 20),
    ],
)
def test_kmalloc_rounds_like_slub(size, taken):
    assert kmalloc_size(size)[0] == taken
    m = MemoryLedger()
    a = m.kmalloc("mod", size, site=SITE)
    assert (a.requested, a.allocated) == (size, taken)
    assert m.held_by("mod") == taken


def test_cache_names_and_limits():
    # mm/slab_common.c:764-778 kmalloc_info[] names
    assert kmalloc_size(100)[1] == "kmalloc-128"
    assert kmalloc_size(150)[1] == "kmalloc-192"
    assert kmalloc_size(2000)[1] == "kmalloc-2k"
    assert kmalloc_size(9000)[1] is None  # not a slab cache
    # slab.h:289,312 and 290,310 with MAX_ORDER=11 (mmzone.h:28), PAGE_SHIFT=12
    assert KMALLOC_MAX_CACHE_SIZE == 8192
    assert KMALLOC_MAX_SIZE == 4 * 1024 * 1024
    assert [get_order(s) for s in (1, 4096, 4097, 8192, 8193, 1 << 22)] == [0, 0, 1, 1, 2, 10]


def test_kmalloc_over_max_fails_with_a_warning():
    m = MemoryLedger()
    # 5 MiB: get_order = 11 >= MAX_ORDER -> WARN_ON_ONCE_GFP, NULL (mm/page_alloc.c:5634)
    assert m.kmalloc("mod", 5 << 20, site=SITE) is None
    assert m.total() == 0
    (incident,) = m.incidents
    assert incident.kind == "alloc-too-big"
    lines = incident.text.splitlines()
    assert lines[0] == "------------[ cut here ]------------"  # include/asm-generic/bug.h:9
    assert re.fullmatch(r"WARNING: CPU: 0 PID: \d+ at mm/page_alloc.c:5634 __alloc_pages\+0x"
                        r"[0-9a-f]+/0x[0-9a-f]+", lines[1])  # kernel/panic.c:665
    assert f" {SITE}" in lines
    assert lines[-1] == "---[ end trace 0000000000000000 ]---"  # kernel/panic.c:640
    # 4 MiB + 1 is order 11 too
    assert m.kmalloc("mod", KMALLOC_MAX_SIZE + 1) is None


def test_kmalloc_zero_is_zero_size_ptr():
    m = MemoryLedger()
    a = m.kmalloc("mod", 0)
    assert a.address == ZERO_SIZE_PTR == 16  # include/linux/slab.h:145
    assert m.total() == 0
    m.kfree(a)  # mm/slab_common.c:977: ZERO_OR_NULL_PTR -> return
    m.kfree(None)


def test_vmalloc_rounds_to_pages_without_counting_the_guard_page():
    m = MemoryLedger()
    a = m.vmalloc("mod", 10000)
    b = m.vmalloc("mod", 4096)
    assert a.allocated == 12288 and b.allocated == 4096  # PAGE_ALIGN, mm/vmalloc.c:3327
    # VM_NO_GUARD is absent, so a guard page follows each area (include/linux/vmalloc.h:25,182)
    assert b.address >= a.address + a.allocated + 4096
    assert a.address >> 40 == 0xFFFFC9  # VMALLOC_START, pgtable_64_types.h:126
    assert m.held_by("mod") == 16384
    assert m.vmalloc("mod", 0) is None  # WARN_ON_ONCE(!size), mm/vmalloc.c:3227


def test_get_free_pages_orders():
    m = MemoryLedger()
    a = m.get_free_pages("mod", 0)
    b = m.get_free_pages("mod", 3)
    assert (a.allocated, b.allocated) == (4096, 32768)
    assert b.address % 32768 == 0  # buddy blocks are naturally aligned
    assert m.get_free_pages("mod", 11) is None  # order >= MAX_ORDER
    m.free_pages(b, 3)
    assert m.held_by("mod") == 4096


def test_free_must_match_and_not_repeat():
    m = MemoryLedger()
    a = m.kmalloc("mod", 64)
    v = m.vmalloc("mod", 100)
    with pytest.raises(BadFree):
        m.kfree(v)
    m.kfree(a)
    with pytest.raises(BadFree):
        m.kfree(a)
    assert isinstance(BadFree("x"), KcourseError)
    assert m.held_by("mod") == 4096


def test_freed_slab_object_is_reused_first():
    m = MemoryLedger()
    a = m.kmalloc("mod", 100)
    m.kfree(a)
    assert m.kmalloc("mod", 120).address == a.address  # same kmalloc-128 slot


def test_leak_survives_unload_until_reboot():
    m = MemoryLedger()
    for cycle in range(5):
        m.kmalloc("leaker", 4000, site=SITE)  # init allocates, exit forgets kfree
        m.owner_unloaded("leaker")
        assert m.held_by("leaker") == 4096 * (cycle + 1)
    assert len(m.leaked("leaker")) == 5
    clean = m.kmalloc("noleak", 4000)
    m.kfree(clean)
    m.owner_unloaded("noleak")
    assert m.held_by("noleak") == 0
    m.reboot()
    assert m.total() == 0 and m.outstanding() == []


def test_gfp_kernel_in_atomic_context_is_flagged():
    m = MemoryLedger(debug_atomic_sleep=True)
    seen = []
    m.sink = seen.append
    m.enter_atomic("spin_lock")
    m.kmalloc("mod", 32, "GFP_ATOMIC")  # allowed: GFP_ATOMIC never sleeps
    assert m.incidents == []
    a = m.kmalloc("mod", 32, "GFP_KERNEL", site=SITE)
    m.exit_atomic()
    assert a.context == "atomic"
    (incident,) = m.incidents
    # kernel/sched/core.c:9998 __might_resched, called from might_alloc()
    # (include/linux/sched/mm.h:274) through slab_pre_alloc_hook
    assert incident.lines[0][1] == ("BUG: sleeping function called from invalid context at "
                                    "include/linux/sched/mm.h:274")
    assert incident.lines[1][1].startswith("in_atomic(): 1, irqs_disabled(): 0, non_block: 0,")
    assert seen == [incident]


def test_debian_config_does_not_print_might_sleep():
    # CONFIG_DEBUG_ATOMIC_SLEEP is not set in linux-headers-6.1.0-56-amd64/.config:10431
    seen = []
    m = MemoryLedger(sink=seen.append)
    m.enter_atomic()
    m.vmalloc("mod", 100)
    assert [i.kind for i in m.incidents] == ["sleep-in-atomic"] and seen == []


def test_unknown_gfp_is_a_user_error():
    with pytest.raises(KcourseError):
        MemoryLedger().kmalloc("mod", 8, "GFP_SLEEPY")


def test_kmemleak_report_format():
    m = MemoryLedger(seed=3)
    a = m.kmalloc("leaker", 100, site=SITE)
    m.write(a, b"hello, leak")
    m.get_free_pages("leaker", 0)  # not tracked by kmemleak
    assert m.kmemleak_report() == ""  # still referenced by the loaded module
    m.owner_unloaded("leaker")
    report = m.kmemleak_report().splitlines()
    # mm/kmemleak.c:360-369 print_unreferenced; size = cache object_size (mm/slab.h:745)
    assert re.fullmatch(r"unreferenced object 0xffff888[0-9a-f]{9} \(size 128\):", report[0])
    assert re.fullmatch(r'  comm "insmod", pid \d+, jiffies \d+', report[1])
    assert report[2] == "  hex dump (first 32 bytes):"  # HEX_MAX_LINES*HEX_ROW_SIZE
    # lib/hexdump.c:148,190-217: "xx " per byte, ASCII from column 49
    assert report[3] == "    68 65 6c 6c 6f 2c 20 6c 65 61 6b 00 00 00 00 00  hello, leak....."
    assert report[5] == "  backtrace:"
    assert re.fullmatch(r"    \[<[0-9a-f]{16}>\] kmalloc_trace\+0x[0-9a-f]+/0x[0-9a-f]+",
                        report[6])
    assert report[7].endswith(f"] {SITE}")
    assert m.kmemleak_summary() == ("kmemleak: 1 new suspected memory leaks "
                                    "(see /sys/kernel/debug/kmemleak)")


def test_kmemleak_with_loaded_set():
    m = MemoryLedger()
    m.kmalloc("a", 10)
    m.kmalloc("b", 10)
    assert m.kmemleak_report(loaded={"a"}).count("unreferenced object") == 1


def test_history_feeds_charts():
    m = MemoryLedger()
    a = m.kmalloc("x", 100)
    m.kfree(a)
    assert [(e.op, e.delta, e.held, e.total) for e in m.history] == [
        ("alloc", 128, 128, 128), ("free", -128, 0, 0)]


def test_seeded_addresses_are_stable():
    def addrs(seed):
        m = MemoryLedger(seed=seed)
        return [m.kmalloc("x", s).address for s in (8, 100, 5000, 20000)]

    assert addrs(1) == addrs(1)
    assert addrs(1) != addrs(2)


def test_too_big_warns_once_per_boot():
    """WARN_ON_ONCE_GFP keeps a static __warned in .data.once (mm/internal.h:42-50): the
    second failing call returns NULL silently; vmalloc(0) has its own WARN_ON_ONCE
    (mm/vmalloc.c:3227). A reboot clears .data.once."""
    m = MemoryLedger()
    assert m.kmalloc("mod", 5 << 20, site=SITE) is None
    assert m.get_free_pages("mod", 11, site=SITE) is None  # the same __alloc_pages WARN
    assert m.vmalloc("mod", 0, site=SITE) is None
    assert m.vmalloc("mod", 0, site=SITE) is None
    assert [i.kind for i in m.incidents] == ["alloc-too-big", "vmalloc-zero"]
    m.reboot()
    assert m.kmalloc("mod", 5 << 20, site=SITE) is None
    assert [i.kind for i in m.incidents] == ["alloc-too-big"]
