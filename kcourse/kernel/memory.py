"""The kernel memory ledger: who allocated what, rounded the way Linux 6.1 rounds it.

A user process gets every byte back when it exits; the kernel does not. Memory a module
kmalloc()s stays allocated after rmmod unless the exit path frees it, and only a reboot
clears it. This ledger records each allocation with its owner (the module name), so a
notebook can show a leak growing over load/unload cycles and print a kmemleak-style report.

Rules and where they come from (Linux 6.1, x86_64, 4 KiB pages, CONFIG_SLUB=y as Debian 12):
- kmalloc size classes: include/linux/slab.h:408-450 (__kmalloc_index): 8, 16, 32, 64, 96,
  128, 192, 256, 512, 1k, 2k, 4k, 8k (cache names from mm/slab_common.c:764 kmalloc_info[]).
- Above KMALLOC_MAX_CACHE_SIZE = 1 << (PAGE_SHIFT + 1) = 8 KiB (slab.h:289,312) kmalloc goes
  to the page allocator with order get_order(size) (mm/slab_common.c:923, 1067-1080).
- order >= MAX_ORDER (11, include/linux/mmzone.h:28) fails with a WARN (once per boot) and
  NULL (mm/page_alloc.c:5634), so KMALLOC_MAX_SIZE = 1 << (MAX_ORDER + PAGE_SHIFT - 1) = 4 MiB
  (slab.h:290,310) is the largest kmalloc that succeeds.
- kmalloc(0) returns ZERO_SIZE_PTR = (void *)16 (slab.h:145); kfree(NULL or ZERO_SIZE_PTR)
  does nothing (mm/slab_common.c:977).
- vmalloc rounds up to whole pages (mm/vmalloc.c:3327 PAGE_ALIGN) and leaves an unmapped
  guard page after each area (include/linux/vmalloc.h:25,182 VM_NO_GUARD); vmalloc(0) WARNs
  (once per boot) and returns NULL (mm/vmalloc.c:3227).
- GFP_KERNEL = __GFP_RECLAIM|__GFP_IO|__GFP_FS = 0xcc0 may sleep; GFP_ATOMIC =
  __GFP_HIGH|__GFP_ATOMIC|__GFP_KSWAPD_RECLAIM = 0xa20 may not (include/linux/gfp_types.h:32-38,
  334-335). A sleeping allocation in atomic context is a bug: see incidents below.
- kmemleak's report on what leaked: kcourse.kernel.kmemleak.

Addresses are seeded, so a notebook prints the same ones every run. They sit where x86_64
puts them without KASLR: the direct map at 0xffff888000000000, vmalloc at 0xffffc90000000000
(arch/x86/include/asm/page_64_types.h:42, pgtable_64_types.h:126).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from kcourse.errors import KcourseError
from kcourse.kernel import oops

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
MAX_ORDER = 11  # include/linux/mmzone.h:28 (6.1)
KMALLOC_SHIFT_LOW = 3  # slab.h:292 (SLUB)
KMALLOC_MIN_SIZE = 1 << KMALLOC_SHIFT_LOW
KMALLOC_MAX_CACHE_SIZE = 1 << (PAGE_SHIFT + 1)  # 8 KiB, slab.h:289,312
KMALLOC_MAX_SIZE = 1 << (MAX_ORDER + PAGE_SHIFT - 1)  # 4 MiB, slab.h:290,310
ZERO_SIZE_PTR = 16  # slab.h:145
GFP_FLAGS = {"GFP_KERNEL": 0xCC0, "GFP_ATOMIC": 0xA20, "GFP_NOWAIT": 0x800}
SLEEPING_GFP = {"GFP_KERNEL"}  # __GFP_DIRECT_RECLAIM set: gfpflags_allow_blocking()
DIRECT_MAP_BASE = 0xFFFF888000000000
VMALLOC_START = 0xFFFFC90000000000
HZ = 250  # CONFIG_HZ=250 in Debian's 6.1 config
INITIAL_JIFFIES = (-300 * HZ) & 0xFFFFFFFF  # include/linux/jiffies.h:173
MIGHT_SLEEP_AT = "include/linux/sched/mm.h:274"  # might_alloc() -> might_sleep_if()

KINDS = ("kmalloc", "kzalloc", "vmalloc", "pages")


class BadFree(KcourseError):
    """kfree/vfree/free_pages of something the ledger never handed out (or already freed)."""


def get_order(size: int) -> int:
    """include/asm-generic/getorder.h: smallest order with PAGE_SIZE << order >= size."""
    order, span = 0, PAGE_SIZE
    while span < size:
        order, span = order + 1, span << 1
    return order


def kmalloc_size(size: int) -> tuple[int, str | None]:
    """(bytes really taken, slab cache name or None for the page allocator) for kmalloc(size).

    Raises ValueError above KMALLOC_MAX_SIZE (the real call WARNs and returns NULL).
    """
    if size <= 0:
        return 0, None
    if size > KMALLOC_MAX_CACHE_SIZE:
        order = get_order(size)
        if order >= MAX_ORDER:
            raise ValueError(f"kmalloc({size}): order {order} >= MAX_ORDER {MAX_ORDER}")
        return PAGE_SIZE << order, None
    if size <= KMALLOC_MIN_SIZE:
        cls = KMALLOC_MIN_SIZE
    elif 64 < size <= 96:
        cls = 96
    elif 128 < size <= 192:
        cls = 192
    else:
        cls = 1 << (size - 1).bit_length()
    name = f"kmalloc-{cls // 1024}k" if cls >= 1024 else f"kmalloc-{cls}"
    return cls, name


@dataclass(frozen=True)
class Allocation:
    """One live allocation. `requested` is what the caller asked for, `allocated` what it took."""

    id: int
    owner: str
    requested: int
    allocated: int
    kind: str  # kmalloc | kzalloc | kmem_cache | vmalloc | pages
    gfp: str
    site: str  # "leaker_init+0x1c/0x40 [leaker]"
    address: int
    cache: str | None = None  # kmalloc-128, or None (page allocator / vmalloc)
    order: int | None = None
    context: str = "process"  # process | atomic (what the caller was running in)
    jiffies: int = 0
    pid: int = 0
    comm: str = "insmod"


@dataclass(frozen=True)
class Incident:
    """A report the kernel would print for a bad allocation: WARN, BUG or allocation failure.

    `lines` are (printk level, text) pairs, ready for the ring buffer; `kind` is one of
    "alloc-too-big", "sleep-in-atomic", "vmalloc-zero".
    """

    kind: str
    owner: str
    site: str
    lines: tuple[tuple[int, str], ...]
    taint: int = 1 << oops.TAINT_WARN  # what the kernel adds once it printed this (W)

    @property
    def text(self) -> str:
        return "\n".join(t for _, t in self.lines)


@dataclass(frozen=True)
class LedgerEvent:
    """One change, for charts: `delta` bytes for `owner` (negative when freed)."""

    seq: int
    op: str  # alloc | free | unload | reboot
    owner: str
    delta: int
    held: int  # bytes held by `owner` after this event
    total: int  # bytes held by everyone after this event


@dataclass
class _Cache:
    """A kmalloc cache: slab pages cut into objects, freed objects reused first (SLUB LIFO)."""

    size: int
    free: list[int] = field(default_factory=list)


class MemoryLedger:
    """kmalloc/kzalloc/vmalloc/__get_free_pages bookkeeping per owner, surviving rmmod.

    `sink`, if given, receives each Incident (the Kernel forwards its lines to printk).
    `debug_atomic_sleep` mirrors CONFIG_DEBUG_ATOMIC_SLEEP: Debian's 6.1 config leaves it off
    (linux-headers-6.1.0-56-amd64/.config:10431), so a GFP_KERNEL allocation under a spinlock
    prints nothing until it really sleeps; debug kernels print the might_sleep BUG at once.
    Either way the ledger records the Incident, so a notebook can show what a debug kernel
    says.
    """

    def __init__(self, seed: int = 0, sink: Callable[[Incident], None] | None = None,
                 debug_atomic_sleep: bool = False,
                 clock: Callable[[], int] | None = None,
                 machine: Callable[[], oops.Machine] | None = None) -> None:
        self.seed = seed
        self.machine = machine  # the Kernel's taint/modules, for report headers
        self.sink = sink
        self.debug_atomic_sleep = debug_atomic_sleep
        self.clock = clock  # microseconds since boot (the Kernel's logical clock)
        self.pid, self.comm = 1000 + random.Random(seed).randrange(200), "insmod"
        self._reader: Callable[[int, int], bytes] | None = None  # see contents_reader
        self.reboot()

    # -- state ------------------------------------------------------------------------------
    def reboot(self) -> None:
        """Everything goes: the only way leaked kernel memory comes back."""
        rng = random.Random(self.seed)
        self._rng = random.Random(self.seed + 1)
        self._live: dict[int, Allocation] = {}
        self._orphans: set[int] = set()  # ids whose owner was unloaded (no pointer left)
        self._data: dict[int, bytes] = {}  # what modules wrote into their objects
        self._caches: dict[int | str, _Cache] = {}  # kmalloc by size, kmem_caches by name
        self._next_page = DIRECT_MAP_BASE + (0x100000000 + rng.randrange(1 << 12) * PAGE_SIZE)
        self._next_vmalloc = VMALLOC_START + rng.randrange(1 << 10) * PAGE_SIZE
        self._atomic: list[str] = []
        self._warned: set[str] = set()  # WARN_ON_ONCE sites that fired (".data.once")
        self._ids = 0
        self._jiffies_ticks = 0
        self.incidents: list[Incident] = []
        self.history: list[LedgerEvent] = []
        if hasattr(self, "_booted"):
            self._record("reboot", "", 0)
        self._booted = True

    def set_current(self, pid: int, comm: str) -> None:
        """The task whose syscall is running (kmemleak records pid and comm)."""
        self.pid, self.comm = pid, comm

    def enter_atomic(self, reason: str = "spin_lock") -> None:
        """spin_lock(), local_irq_disable(), preempt_disable(): sleeping is not allowed."""
        self._atomic.append(reason)

    def exit_atomic(self) -> None:
        if self._atomic:
            self._atomic.pop()

    @property
    def in_atomic(self) -> bool:
        return bool(self._atomic)

    def jiffies(self) -> int:
        if self.clock is not None:
            return INITIAL_JIFFIES + self.clock() * HZ // 1_000_000
        return INITIAL_JIFFIES + self._jiffies_ticks

    # -- allocation -------------------------------------------------------------------------
    def kmalloc(self, owner: str, size: int, gfp: str = "GFP_KERNEL", site: str = "",
                *, zero: bool = False) -> Allocation | None:
        """kmalloc(size, gfp): the object, or None when the kernel would return NULL."""
        self._check_gfp(gfp)
        self._might_sleep(owner, gfp, site)
        kind = "kzalloc" if zero else "kmalloc"
        if size == 0:
            return Allocation(0, owner, 0, 0, kind, gfp, site, ZERO_SIZE_PTR, pid=self.pid,
                              comm=self.comm)
        try:
            allocated, cache = kmalloc_size(size)
        except ValueError:
            self._warn_too_big(owner, site, get_order(size), gfp)
            return None
        if cache is None:
            order = get_order(size)
            return self._add(owner, size, allocated, kind, gfp, site, self._pages(order),
                             None, order)
        return self._add(owner, size, allocated, kind, gfp, site, self._object(allocated), cache,
                         None)

    def kzalloc(self, owner: str, size: int, gfp: str = "GFP_KERNEL", site: str = ""):
        """kmalloc with __GFP_ZERO (include/linux/slab.h: kzalloc)."""
        return self.kmalloc(owner, size, gfp, site, zero=True)

    def vmalloc(self, owner: str, size: int, site: str = "") -> Allocation | None:
        """vmalloc(size): GFP_KERNEL inside, so it may sleep (mm/vmalloc.c: vmalloc)."""
        self._might_sleep(owner, "GFP_KERNEL", site)
        if size <= 0:
            if self._once("mm/vmalloc.c:3227"):
                return None
            self._emit("vmalloc-zero", owner, site, oops.warning_lines(
                "mm/vmalloc.c:3227", "__vmalloc_node_range", self.pid, self.comm, site,
                machine=self._machine(), seed=self.seed, inner=["vmalloc+0x4b/0x60"]))
            return None
        allocated = (size + PAGE_SIZE - 1) // PAGE_SIZE * PAGE_SIZE
        address = self._next_vmalloc
        self._next_vmalloc += allocated + PAGE_SIZE  # the guard page: reserved, not counted
        return self._add(owner, size, allocated, "vmalloc", "GFP_KERNEL", site, address, None,
                         None)

    def get_free_pages(self, owner: str, order: int, gfp: str = "GFP_KERNEL",
                       site: str = "") -> Allocation | None:
        """__get_free_pages(gfp, order): 2**order contiguous pages, or None (0) on failure."""
        self._check_gfp(gfp)
        self._might_sleep(owner, gfp, site)
        if order >= MAX_ORDER:
            self._warn_too_big(owner, site, order, "pages")
            return None
        return self._add(owner, PAGE_SIZE << order, PAGE_SIZE << order, "pages", gfp, site,
                         self._pages(order), None, order)

    # -- freeing ----------------------------------------------------------------------------
    def kfree(self, what: Allocation | int | None) -> None:
        """kfree(ptr): NULL and ZERO_SIZE_PTR are fine; anything else must be a live kmalloc."""
        address = what.address if isinstance(what, Allocation) else what
        if not address or address == ZERO_SIZE_PTR:
            return
        self._free(address, ("kmalloc", "kzalloc", "kmem_cache"), "kfree")

    def cache_alloc(self, owner: str, cache: str, size: int, slab_order: int,
                    gfp: str = "GFP_KERNEL", site: str = "") -> tuple[Allocation, list[int]]:
        """kmem_cache_alloc from the slab cache named `cache` (objects `size` bytes apart in
        slabs of PAGE_SIZE << slab_order, mm/slub.c): the object, and the addresses of a slab
        it took fresh (empty if none), whose objects a cache's ctor initialises."""
        self._check_gfp(gfp)
        self._might_sleep(owner, gfp, site)
        pool = self._caches.setdefault(cache, _Cache(size))
        fresh: list[int] = []
        if not pool.free:
            slab = self._pages(slab_order)
            fresh = [slab + i * size for i in range((PAGE_SIZE << slab_order) // size)]
            pool.free = fresh[:]
            self._rng.shuffle(pool.free)  # CONFIG_SLAB_FREELIST_RANDOM=y
        alloc = self._add(owner, size, size, "kmem_cache", gfp, site, pool.free.pop(), cache,
                          None)
        return alloc, fresh

    def cache_free(self, address: int) -> None:
        """kmem_cache_free(s, ptr): NULL is fine (mm/slub.c kmem_cache_free, cache_from_obj)."""
        if address:
            self._free(address, ("kmem_cache", "kmalloc", "kzalloc"), "kmem_cache_free")

    def vfree(self, what: Allocation | int | None) -> None:
        address = what.address if isinstance(what, Allocation) else what
        if not address:
            return  # mm/vmalloc.c: vfree(NULL) is a no-op
        self._free(address, ("vmalloc",), "vfree")

    def free_pages(self, what: Allocation | int, order: int | None = None) -> None:
        address = what.address if isinstance(what, Allocation) else what
        if not address:
            return  # mm/page_alloc.c:5756
        self._free(address, ("pages",), "free_pages")

    def write(self, what: Allocation | int, data: bytes) -> None:
        """memcpy(ptr, data, len) into a live allocation (shown by the kmemleak hex dump)."""
        address = what.address if isinstance(what, Allocation) else what
        alloc = next((a for a in self._live.values() if a.address == address), None)
        if alloc is None or len(data) > alloc.allocated:
            raise KcourseError(f"write to 0x{address:016x}: not inside a live allocation")
        self._data[alloc.id] = bytes(data)

    def rollback(self, owner: str, after_id: int) -> None:
        """Forget what `owner` allocated after allocation `after_id`, as if it never ran:
        the simulator stopped module code it could not model, and unwinds that call."""
        for alloc in [a for a in self._live.values() if a.owner == owner and a.id > after_id]:
            del self._live[alloc.id]
            self._data.pop(alloc.id, None)
            if alloc.cache:
                self._caches[alloc.allocated].free.append(alloc.address)
            self._record("rollback", owner, -alloc.allocated)

    def contents_reader(self, reader) -> None:
        """Where the bytes of live objects are read from (the emulated memory, once module
        code runs): reader(address, length) -> bytes."""
        self._reader = reader

    def owner_unloaded(self, owner: str) -> list[Allocation]:
        """The module is gone, and with it every pointer to what it still holds: a leak.

        Returns the leaked allocations. They stay counted until reboot().
        """
        leaked = [a for a in self._live.values() if a.owner == owner]
        self._orphans.update(a.id for a in leaked)
        self._record("unload", owner, 0)
        return leaked

    # -- questions --------------------------------------------------------------------------
    def held_by(self, owner: str) -> int:
        return sum(a.allocated for a in self._live.values() if a.owner == owner)

    def total(self) -> int:
        return sum(a.allocated for a in self._live.values())

    def outstanding(self, owner: str | None = None) -> list[Allocation]:
        return [a for a in self._live.values() if owner is None or a.owner == owner]

    def leaked(self, owner: str | None = None) -> list[Allocation]:
        """Allocations whose owner was unloaded without freeing them."""
        return [a for a in self.outstanding(owner) if a.id in self._orphans]

    def owners(self) -> list[str]:
        seen = dict.fromkeys(e.owner for e in self.history if e.owner)
        return list(seen)

    def kmemleak_report(self, loaded: set[str] | None = None) -> str:
        """What `cat /sys/kernel/debug/kmemleak` shows after a scan (kcourse.kernel.kmemleak)."""
        from kcourse.kernel import kmemleak

        return kmemleak.report(self, loaded)

    def kmemleak_summary(self, loaded: set[str] | None = None) -> str:
        """The dmesg line after a scan (kcourse.kernel.kmemleak)."""
        from kcourse.kernel import kmemleak

        return kmemleak.summary(self, loaded)

    def unreferenced(self, loaded: set[str] | None = None) -> list[Allocation]:
        """What a kmemleak scan finds: objects no pointer refers to any more, i.e. those of
        unloaded modules (told by owner_unloaded(), or: every owner not in `loaded`)."""
        if loaded is None:
            return self.leaked()
        return [a for a in self._live.values() if a.id in self._orphans or a.owner not in loaded]

    # -- internals --------------------------------------------------------------------------
    def _check_gfp(self, gfp: str) -> None:
        if gfp not in GFP_FLAGS:
            raise KcourseError(f"unknown GFP flags {gfp!r}; use one of {', '.join(GFP_FLAGS)}")

    def _might_sleep(self, owner: str, gfp: str, site: str) -> None:
        if gfp in SLEEPING_GFP and self._atomic:
            lines = oops.might_sleep_lines(MIGHT_SLEEP_AT, self.pid, self.comm,
                                           preempt_count=len(self._atomic), site=site,
                                           machine=self._machine())
            incident = Incident("sleep-in-atomic", owner, site, tuple(lines))
            self.incidents.append(incident)
            if self.debug_atomic_sleep and self.sink:
                self.sink(incident)

    def _once(self, where: str) -> bool:
        """WARN_ON_ONCE: True when this site already warned since boot (then it is silent;
        include/asm-generic/bug.h, mm/internal.h:42 WARN_ON_ONCE_GFP)."""
        if where in self._warned:
            return True
        self._warned.add(where)
        return False

    def _warn_too_big(self, owner: str, site: str, order: int, gfp: str) -> None:
        if self._once("mm/page_alloc.c:5634"):  # WARN_ON_ONCE_GFP(order >= MAX_ORDER, gfp)
            return
        inner = (["__kmalloc_large_node+0x6b/0x130", "__kmalloc+0xc3/0x150"]
                 if gfp != "pages" else ["__get_free_pages+0xd/0x40"])
        self._emit("alloc-too-big", owner, site, oops.warning_lines(
            "mm/page_alloc.c:5634", "__alloc_pages", self.pid, self.comm, site,
            machine=self._machine(), seed=self.seed, inner=inner))

    def _machine(self) -> oops.Machine:
        return self.machine() if self.machine else oops.Machine()

    def _emit(self, kind: str, owner: str, site: str, lines) -> None:
        incident = Incident(kind, owner, site, tuple(lines))
        self.incidents.append(incident)
        if self.sink:
            self.sink(incident)

    def _pages(self, order: int) -> int:
        span = PAGE_SIZE << order
        self._next_page = (self._next_page + span - 1) // span * span  # buddy: naturally aligned
        address, self._next_page = self._next_page, self._next_page + span
        return address

    def _object(self, size: int) -> int:
        cache = self._caches.setdefault(size, _Cache(size))
        if not cache.free:
            order = 1 if size >= 4096 else 0
            slab = self._pages(order)
            slots = [slab + i * size for i in range((PAGE_SIZE << order) // size)]
            self._rng.shuffle(slots)  # CONFIG_SLAB_FREELIST_RANDOM=y in Debian's config
            cache.free = slots
        return cache.free.pop()

    def _add(self, owner, requested, allocated, kind, gfp, site, address, cache, order):
        self._ids += 1
        self._jiffies_ticks += 1
        alloc = Allocation(self._ids, owner, requested, allocated, kind, gfp, site, address,
                           cache, order, "atomic" if self._atomic else "process",
                           self.jiffies(), self.pid, self.comm)
        self._live[alloc.id] = alloc
        self._record("alloc", owner, allocated)
        return alloc

    def _free(self, address: int, kinds: tuple[str, ...], fn: str) -> None:
        match = [a for a in self._live.values() if a.address == address]
        if not match:
            raise BadFree(f"{fn}(0x{address:016x}): not an allocated object "
                          "(double free or a pointer that was never returned)")
        alloc = match[0]
        if alloc.kind not in kinds:
            raise BadFree(f"{fn}(0x{address:016x}): this memory came from {alloc.kind}, "
                          f"free it with the matching function")
        del self._live[alloc.id]
        self._data.pop(alloc.id, None)
        self._orphans.discard(alloc.id)
        if alloc.cache:
            key = alloc.cache if alloc.kind == "kmem_cache" else alloc.allocated
            self._caches[key].free.append(alloc.address)
        self._record("free", alloc.owner, -alloc.allocated)

    def _record(self, op: str, owner: str, delta: int) -> None:
        self.history.append(LedgerEvent(len(self.history) + 1, op, owner, delta,
                                        self.held_by(owner) if owner else 0, self.total()))

    def contents(self, alloc: Allocation, length: int) -> bytes:
        """Zeros unless the module wrote something: Debian's 6.1 config sets
        CONFIG_INIT_ON_ALLOC_DEFAULT_ON=y (.config:9818), so even kmalloc memory starts zeroed
        (mm/slab.h slab_want_init_on_alloc). Only kzalloc promises it on every kernel."""
        if self._reader is not None and alloc.id not in self._data:
            try:
                return self._reader(alloc.address, length)
            except Exception:  # noqa: BLE001 - not in the emulated memory: the model's bytes
                pass
        data = self._data.get(alloc.id, b"")[:length]
        return data + bytes(length - len(data))
