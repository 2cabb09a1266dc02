"""Slab caches of a module's own: kmem_cache_create, kmem_cache_alloc, kmem_cache_free,
kmem_cache_destroy, ksize (mm/slab_common.c, mm/slub.c), into the memory ledger.

kmem_cache_create first tries __kmem_cache_alias: a cache without a ctor and without
SLAB_NEVER_MERGE flags merges with an existing mergeable cache (find_mergeable) whose size is
its own size aligned (calculate_alignment), within a pointer of it, with the same
SLAB_MERGE_SAME flags. That cache gains a reference, its object_size becomes the larger of
the two, and the module gets it back: its name is the cache's first name (LKMPG's 36-byte
SLAB_HWCACHE_ALIGN cache becomes Debian's 64-byte "vmap_area"). /sys/kernel/slab/<name> is
then a symlink to the cache's ":<flags>-<size>" directory that stays after the module
destroys it (sysfs_slab_alias; nothing removes it). A cache that merges with nothing is
made (calculate_sizes, calculate_order for the lab's one CPU): a mergeable one under its
unique id with the name as its first alias link, which dangles once it is destroyed; one
with a ctor (unmergeable) under its own name, which goes with it. The ctor runs on every
object of each new slab (setup_object), not at each allocation; objects of caches without a
ctor are zeroed at allocation (init_on_alloc, Debian's default).

BOOT_CACHES are the mergeable caches of the lab's guest (Debian 6.1.0-56-amd64 under QEMU,
one CPU), recorded there from /sys/kernel/slab/:* (object_size, slab_size, align,
objs_per_slab, order, aliases). Their first names are only known where a probe printed
them (tests/data/kapidev/slabprobe); the others are named by their id. Not modelled: the
symlinks as symlinks (ls -l shows a directory), the other /sys/kernel/slab attributes,
/proc/slabinfo, and kmem_cache_destroy of a cache that still has objects (the kernel's
"Slab cache still has objects" report): that stops with one line.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass, field

from kcourse.kapi import slab
from kcourse.kapi.registry import function
from kcourse.kapi.textfile import TextOps
from kcourse.kernel import structs as S
from kcourse.kernel.kernel import SimulatorLimit
from kcourse.kernel.memory import KMALLOC_MAX_CACHE_SIZE
from kcourse.kernel.nodes import Node

PAGE_SIZE, CACHE_LINE, POINTER = 4096, 64, 8
SLUB_MAX_ORDER, MAX_ORDER, MAX_OBJS_PER_PAGE = 3, 11, 32767
NR_CPUS = 1  # the lab's guest: -smp 1
# include/linux/slab.h flags
SLAB_CONSISTENCY_CHECKS, SLAB_RED_ZONE, SLAB_POISON = 0x100, 0x400, 0x800
SLAB_HWCACHE_ALIGN, SLAB_CACHE_DMA, SLAB_CACHE_DMA32 = 0x2000, 0x4000, 0x8000
SLAB_STORE_USER, SLAB_PANIC, SLAB_TYPESAFE_BY_RCU = 0x10000, 0x40000, 0x80000
SLAB_TRACE, SLAB_NOLEAKTRACE, SLAB_FAILSLAB = 0x200000, 0x800000, 0x2000000
SLAB_ACCOUNT, SLAB_RECLAIM_ACCOUNT = 0x4000000, 0x20000
# mm/slab_common.c
SLAB_NEVER_MERGE = (SLAB_RED_ZONE | SLAB_POISON | SLAB_STORE_USER | SLAB_TRACE
                    | SLAB_TYPESAFE_BY_RCU | SLAB_NOLEAKTRACE | SLAB_FAILSLAB)
SLAB_MERGE_SAME = SLAB_RECLAIM_ACCOUNT | SLAB_CACHE_DMA | SLAB_CACHE_DMA32 | SLAB_ACCOUNT
KC = {f: S.offsetof("kmem_cache", f) for f in (
    "flags", "size", "object_size", "offset", "refcount", "ctor", "inuse", "align", "name")}
SYS_SLAB = "/sys/kernel/slab"

# id object_size slab_size align objs_per_slab order aliases (recorded, see the docstring)
BOOT_CACHES = """
:0000024 24 24 8 170 0 1|:0000032 32 32 8 128 0 1|:0000048 48 48 8 85 0 2
:0000056 56 56 8 73 0 2|:0000064 64 64 8 64 0 6|:0000072 72 72 8 56 0 2
:0000080 80 80 8 51 0 2|:0000088 88 88 8 46 0 1|:0000096 96 96 8 42 0 0
:0000112 112 112 8 36 0 0|:0000128 128 128 8 32 0 1|:0000184 184 184 8 22 0 0
:0000192 176 192 64 21 0 6|:0000200 200 200 8 20 0 0|:0000216 216 216 8 18 0 0
:0000256 256 256 256 16 0 4|:0000272 272 272 8 15 0 0|:0000320 304 320 64 12 0 0
:0000416 416 416 8 19 1 0|:0000512 512 512 64 8 0 1|:0000576 576 576 64 14 1 0
:0000640 640 640 64 12 1 1|:0000768 736 768 64 10 1 0|:0000968 968 968 8 8 1 0
:0001024 1024 1024 64 8 1 1|:0001088 1056 1088 64 15 2 0|:0001232 1232 1232 8 13 2 0
:0001360 1360 1360 8 12 2 0|:0002048 2048 2048 64 8 2 1|:0002112 2080 2112 64 15 3 0
:0004096 4096 4096 64 8 3 1|:A-0000016 16 16 8 256 0 0|:A-0000032 32 32 8 128 0 0
:A-0000040 40 40 8 102 0 0|:A-0000048 48 48 8 85 0 1|:A-0000056 56 56 8 73 0 0
:A-0000064 64 64 8 64 0 3|:A-0000072 72 72 8 56 0 1|:A-0000080 80 80 8 51 0 2
:A-0000120 120 120 8 34 0 0|:A-0000128 128 128 64 32 0 4|:A-0000136 136 136 8 30 0 0
:A-0000152 152 152 8 26 0 0|:A-0000192 184 192 64 21 0 2|:A-0000256 256 256 64 16 0 3
:A-0000320 320 320 64 12 0 0|:A-0000624 624 624 8 13 1 0|:A-0000704 704 704 64 11 1 0
:A-0001024 1024 1024 64 8 1 2|:A-0001152 1152 1152 64 14 2 2|:A-0001216 1200 1216 64 13 2 0
:A-0001344 1344 1344 64 12 2 1|:A-0004480 4480 4480 64 7 3 0|:a-0000104 104 104 8 39 0 0
:a-0000128 128 128 8 32 0 0|:a-0000256 208 256 64 16 0 0
"""
BOOT_NAMES = {":0000064": "vmap_area", ":0000200": "ip4-frags"}  # as slabprobe printed them
_ID_FLAGS = {"d": SLAB_CACHE_DMA, "D": SLAB_CACHE_DMA32, "a": SLAB_RECLAIM_ACCOUNT,
             "A": SLAB_ACCOUNT}


@dataclass
class Cache:
    name: str
    sysfs: str  # its directory in /sys/kernel/slab
    object_size: int
    size: int
    align: int
    order: int
    flags: int = 0
    inuse: int = 0
    refcount: int = 1
    ctor: int = 0
    address: int = 0  # its struct kmem_cache, once a module has it
    aliases: list[str] = field(default_factory=list)  # names linked to it by modules

    @property
    def mergeable(self) -> bool:
        return self.sysfs.startswith(":")

    @property
    def objs_per_slab(self) -> int:
        return (PAGE_SIZE << self.order) // self.size


def _boot() -> list[Cache]:
    caches = []
    for entry in BOOT_CACHES.replace("\n", "|").split("|"):
        if not entry.strip():
            continue
        ident, obj, size, align, _objs, order, aliases = entry.split()
        flags = 0
        if "-" in ident:
            flags = sum(_ID_FLAGS[c] for c in ident[1:ident.index("-")])
        caches.append(Cache(BOOT_NAMES.get(ident, ident), ident, int(obj), int(size),
                            int(align), int(order), flags, int(obj), int(aliases) + 1))
    return caches


def _state(machine) -> dict:
    state = machine.objects.get("kmem_caches")
    if state is None:
        state = machine.objects["kmem_caches"] = {"list": _boot(), "by_address": {}}
    return state


def calculate_alignment(flags: int, align: int, size: int) -> int:
    """mm/slab_common.c: a cache line, halved while the object fits twice, for
    SLAB_HWCACHE_ALIGN; at least ARCH_SLAB_MINALIGN (8); a multiple of a pointer."""
    if flags & SLAB_HWCACHE_ALIGN:
        ralign = CACHE_LINE
        while size <= ralign // 2:
            ralign //= 2
        align = max(align, ralign)
    align = max(align, POINTER)
    return -(-align // POINTER) * POINTER


def _get_order(size: int) -> int:
    order = 0
    while PAGE_SIZE << order < size:
        order += 1
    return order


def _calc_slab_order(size: int, min_objects: int, max_order: int, fract: int) -> int:
    if PAGE_SIZE // size > MAX_OBJS_PER_PAGE:
        return _get_order(size * MAX_OBJS_PER_PAGE) - 1
    order = _get_order(min_objects * size)
    while order <= max_order:
        slab_size = PAGE_SIZE << order
        if slab_size % size <= slab_size // fract:
            break
        order += 1
    return order


def calculate_order(size: int) -> int:
    """mm/slub.c calculate_order with slub_min_objects 0, slub_min_order 0."""
    min_objects = 4 * (NR_CPUS.bit_length() + 1)
    min_objects = min(min_objects, (PAGE_SIZE << SLUB_MAX_ORDER) // size)
    while min_objects > 1:
        fraction = 16
        while fraction >= 4:
            order = _calc_slab_order(size, min_objects, SLUB_MAX_ORDER, fraction)
            if order <= SLUB_MAX_ORDER:
                return order
            fraction //= 2
        min_objects -= 1
    order = _calc_slab_order(size, 1, SLUB_MAX_ORDER, 1)
    return order if order <= SLUB_MAX_ORDER else _calc_slab_order(size, 1, MAX_ORDER, 1)


def find_mergeable(caches: list[Cache], size: int, align: int, flags: int,
                   ctor: int) -> Cache | None:
    """mm/slab_common.c find_mergeable: newest first, as list_for_each_entry_reverse."""
    if ctor or flags & SLAB_NEVER_MERGE:
        return None
    size = -(-size // POINTER) * POINTER
    align = calculate_alignment(flags, align, size)
    size = -(-size // align) * align
    for s in reversed(caches):
        if not s.mergeable or s.refcount <= 0 or size > s.size:
            continue
        if flags & SLAB_MERGE_SAME != s.flags & SLAB_MERGE_SAME:
            continue
        if s.size & ~(align - 1) != s.size or s.size - size >= POINTER:
            continue
        return s
    return None


def _unique_id(size: int, flags: int) -> str:
    """mm/slub.c create_unique_id: ':', the flag letters and '-' if any, the size."""
    letters = "".join(c for c, f in _ID_FLAGS.items() if flags & f)
    return f":{letters}{'-' if letters else ''}{size:07d}"


def _new_cache(name: str, size: int, align: int, flags: int, ctor: int) -> Cache:
    """create_cache: calculate_sizes for SLUB without debug flags."""
    align = calculate_alignment(flags, align, size)
    inuse = -(-size // POINTER) * POINTER
    total = inuse + (POINTER if ctor or flags & (SLAB_TYPESAFE_BY_RCU | SLAB_POISON) else 0)
    total = -(-total // align) * align
    mergeable = not ctor and not flags & SLAB_NEVER_MERGE
    sysfs = _unique_id(total, flags & SLAB_MERGE_SAME) if mergeable else name
    return Cache(name, sysfs, size, total, align, calculate_order(total), flags, inuse, 1,
                 ctor)


def _struct(call, cache: Cache) -> int:
    """The struct kmem_cache the module is handed, with the fields slub_def.h defines."""
    machine = call.machine
    if not cache.address:
        cache.address = machine.kernel_alloc(S.sizeof("kmem_cache"))
        machine.space.write_u64(cache.address + KC["name"],
                                machine.kernel_string(cache.name.encode() + b"\0"))
        _state(machine)["by_address"][cache.address] = cache
    space, at = machine.space, cache.address
    for field_name, value in (("object_size", cache.object_size), ("size", cache.size),
                              ("align", cache.align), ("inuse", cache.inuse),
                              ("refcount", cache.refcount)):
        space.write(at + KC[field_name], (value & 0xFFFF_FFFF).to_bytes(4, "little"))
    space.write_u64(at + KC["flags"], cache.flags)
    space.write_u64(at + KC["ctor"], cache.ctor)
    return at


def _sysfs_dir(call, path: str, cache: Cache) -> None:
    nodes = call.kernel.nodes
    if nodes.get(SYS_SLAB) is None:
        nodes.add(Node(SYS_SLAB, stat.S_IFDIR | 0o755))
    if nodes.get(path) is None:
        nodes.add(Node(path, stat.S_IFDIR | 0o755, data={"kind": "slab"}))
    attributes = {"object_size": lambda: cache.object_size, "slab_size": lambda: cache.size,
                  "align": lambda: cache.align, "objs_per_slab": lambda: cache.objs_per_slab,
                  "order": lambda: cache.order, "aliases": lambda: max(cache.refcount - 1, 0)}
    for attr, value in attributes.items():
        if nodes.get(f"{path}/{attr}") is None:
            nodes.add(Node(f"{path}/{attr}", stat.S_IFREG | 0o444, size=4096,
                           ops=TextOps(lambda value=value: f"{value()}\n", kernfs=True)))


def _cache_of(call, s: int) -> Cache:
    cache = _state(call.machine)["by_address"].get(s)
    if cache is None:
        raise SimulatorLimit(f"kcourse: {call.site} passes {s:#x} as a struct kmem_cache, "
                             "which is no cache kmem_cache_create returned")
    return cache


@function("struct kmem_cache *kmem_cache_create(const char *name, unsigned int size, "
          "unsigned int align, slab_flags_t flags, void (*ctor)(void *))",
          "mm/slab_common.c")
def kmem_cache_create(call, name, size, align, flags, ctor):
    flags &= 0xFFFF_FFFF
    if name is None or not size or size > (PAGE_SIZE << MAX_ORDER):
        return 0  # kmem_cache_sanity_check: -EINVAL, so NULL
    text = name.decode("utf-8", "surrogateescape")
    state = _state(call.machine)
    cache = find_mergeable(state["list"], size, align, flags, ctor)
    if cache is not None:  # __kmem_cache_alias
        cache.refcount += 1
        cache.object_size = max(cache.object_size, size)
        cache.inuse = max(cache.inuse, -(-size // POINTER) * POINTER)
    else:
        cache = _new_cache(text, size, align, flags, ctor)
        state["list"].append(cache)
        if cache.mergeable:
            _sysfs_dir(call, f"{SYS_SLAB}/{cache.sysfs}", cache)
    cache.aliases.append(text)
    _sysfs_dir(call, f"{SYS_SLAB}/{text}", cache)
    return _struct(call, cache)


@function("void *kmem_cache_alloc(struct kmem_cache *s, gfp_t gfpflags)", "mm/slub.c")
def kmem_cache_alloc(call, s, gfpflags):
    cache = _cache_of(call, s)
    owner = call.caller.name if call.caller else "kernel"
    alloc, fresh = call.kernel.memory.cache_alloc(owner, cache.sysfs, cache.size, cache.order,
                                                  slab.gfp_name(gfpflags), call.site)
    machine = call.machine
    if fresh:  # allocate_slab: the slab's pages, then the ctor on every object
        machine.space.map(fresh[0], PAGE_SIZE << cache.order)
        machine.space.write(fresh[0], bytes(PAGE_SIZE << cache.order))
    for address in fresh if cache.ctor else ():
        machine.call(cache.ctor, address)
    if not cache.ctor or gfpflags & slab.__GFP_ZERO:
        machine.space.write(alloc.address, bytes(cache.object_size))
    call.kernel.event("alloc", owner, alloc.requested)
    return alloc.address


@function("void kmem_cache_free(struct kmem_cache *s, void *x)", "mm/slub.c")
def kmem_cache_free(call, s, x):
    memory = call.kernel.memory
    alloc = next((a for a in memory.outstanding() if a.address == x), None)
    memory.cache_free(x)
    if alloc is not None:
        call.kernel.event("free", alloc.owner, alloc.requested)


@function("void kmem_cache_destroy(struct kmem_cache *s)", "mm/slab_common.c")
def kmem_cache_destroy(call, s):
    if not s:
        return
    cache = _cache_of(call, s)
    cache.refcount -= 1
    call.machine.space.write(s + KC["refcount"], cache.refcount.to_bytes(4, "little",
                                                                         signed=True))
    if cache.refcount > 0:
        return
    if any(a.cache == cache.sysfs and a.kind == "kmem_cache"
           for a in call.kernel.memory.outstanding()):
        raise SimulatorLimit(f"kcourse: {call.site} destroys the cache {cache.name} while "
                             "objects of it are still allocated: the real kernel reports "
                             "\"Slab cache still has objects\" with a WARN, which kcourse "
                             "does not model")
    state = _state(call.machine)
    state["list"].remove(cache)
    nodes = call.kernel.nodes
    nodes.remove(f"{SYS_SLAB}/{cache.sysfs}")  # the cache's directory (or, unmergeable, name)
    for alias in cache.aliases:  # the alias links stay, dangling: their files are gone
        for gone in nodes.children(f"{SYS_SLAB}/{alias}"):
            nodes.remove(gone.path)


@function("size_t ksize(const void *objp)", "mm/slab_common.c")
def ksize(call, objp):
    """__ksize -> slab_ksize (mm/slab.h): the slab cache's size, padding included (without
    SLAB_RED_ZONE, POISON, TYPESAFE_BY_RCU or STORE_USER; a kmalloc cache's is its size
    class); 0 for NULL and ZERO_SIZE_PTR."""
    alloc = next((a for a in call.kernel.memory.outstanding() if a.address == objp), None)
    if alloc is None:  # a pointer into a slab object (a devm_kmalloc's data) is that object
        alloc = next((a for a in call.kernel.memory.outstanding() if a.allocated <=
                      KMALLOC_MAX_CACHE_SIZE and a.kind != "vmalloc" and
                      a.address < objp < a.address + a.allocated), None)
    if alloc is None:
        return 0
    if alloc.kind == "kmem_cache":
        return next((c.size for c in _state(call.machine)["list"]
                     if c.sysfs == alloc.cache), alloc.allocated)
    return alloc.allocated
