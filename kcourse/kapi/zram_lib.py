"""What else Debian's zram calls from its init, exit and sysfs files: memparse
(lib/cmdline.c), kstrtou16 (lib/kstrtox.c), kvmalloc_node and kvfree (mm/util.c),
__init_rwsem (kernel/locking/rwsem.c) and __num_online_cpus (kernel/cpu.c).

disksize_store and mem_limit_store parse their input with memparse ("1G", "512M", "0x1000");
max_comp_streams_show prints num_online_cpus() (1: the lab's guest); the debugfs file
block_state's read takes a kvmalloc'd buffer of the read's size.
"""

from __future__ import annotations

from kcourse.kapi import slab
from kcourse.kapi.registry import data, function
from kcourse.kapi.string import _kstrto
from kcourse.kernel import structs as S

MASK64 = (1 << 64) - 1
PAGE_SIZE = 4096
INT_MAX = (1 << 31) - 1
__GFP_DIRECT_RECLAIM = 0x400
RWSEM = {f: S.offsetof("rw_semaphore", f) for f in ("count", "owner", "osq", "wait_lock",
                                                     "wait_list")}
SUFFIXES = "kmgtpe"  # memparse: K, M, G, T, P, E (either case), each 10 more bits


def simple_strtoull(text: bytes) -> tuple[int, int]:
    """lib/vsprintf.c simple_strtoull(cp, &endp, 0): (value mod 2**64, bytes consumed).
    The radix from the prefix (_parse_integer_fixup_radix): 0x and a hex digit is 16, a
    leading 0 is 8, else 10; digits up to the first that is not one (no sign, no spaces)."""
    base, i = 10, 0
    if text[:1] == b"0":
        if text[1:2].lower() == b"x" and text[2:3].isalnum() and \
                text[2:3].lower() in b"0123456789abcdef":
            base, i = 16, 2
        else:
            base = 8
    value = 0
    while i < len(text):
        c = chr(text[i]).lower()
        digit = int(c, 36) if c.isalnum() and c.isascii() else 99
        if digit >= base:
            break
        value = (value * base + digit) & MASK64
        i += 1
    return value, i


@function("unsigned long long memparse(const char *ptr, char **retptr)", "lib/cmdline.c")
def memparse(call, ptr, retptr):
    text = ptr or b""
    value, used = simple_strtoull(text)
    suffix = chr(text[used]).lower() if used < len(text) else ""
    if suffix and suffix in SUFFIXES:
        value = (value << 10 * (SUFFIXES.index(suffix) + 1)) & MASK64
        used += 1
    if retptr:
        call.machine.space.write_u64(retptr, call.raw(0) + used)
    return value


@function("int kstrtou16(const char *s, unsigned int base, u16 *res)", "lib/kstrtox.c")
def kstrtou16(call, s, base, res):
    return _kstrto(call, s, base, res, 2, 0, 0xFFFF)


@function("void *kvmalloc_node(size_t size, gfp_t flags, int node)", "mm/util.c")
def kvmalloc_node(call, size, flags, node):
    """kmalloc first (quietly, without retries, above a page); above a page, vmalloc when
    that failed and the flags may sleep; nothing above INT_MAX."""
    if size > INT_MAX:
        return 0  # "Don't even allow crazy sizes" (the WARN is for callers without NOWARN)
    got = slab._kmalloc(call, size, flags)
    if got or size <= PAGE_SIZE or not flags & __GFP_DIRECT_RECLAIM:
        return got
    return slab.vmalloc(call, size)


@function("void kvfree(const void *addr)", "mm/util.c")
def kvfree(call, addr):
    memory = call.kernel.memory
    alloc = next((a for a in memory.outstanding() if a.address == addr), None)
    if alloc is not None and alloc.kind == "vmalloc":  # is_vmalloc_addr
        slab.vfree(call, addr)
    else:
        slab.kfree(call, addr)


@function("void __init_rwsem(struct rw_semaphore *sem, const char *name, "
          "struct lock_class_key *key)", "kernel/locking/rwsem.c")
def __init_rwsem(call, sem, name, key):
    """count RWSEM_UNLOCKED_VALUE (0), owner 0, wait_lock unlocked, an empty wait_list, osq
    unlocked (CONFIG_DEBUG_LOCK_ALLOC is off in Debian's config)."""
    from kcourse.kapi import rwsem
    from kcourse.kapi.wait import list_init

    space = call.machine.space
    space.write_u64(sem + RWSEM["count"], 0)
    space.write_u64(sem + RWSEM["owner"], 0)
    space.write(sem + RWSEM["osq"], bytes(4))
    space.write(sem + RWSEM["wait_lock"], bytes(4))
    list_init(space, sem + RWSEM["wait_list"])
    rwsem._held(call.machine).pop(sem, None)


@data("atomic_t __num_online_cpus", "kernel/cpu.c", 4)
def __num_online_cpus(machine, address):
    return (1).to_bytes(4, "little")  # the lab's guest: one CPU, online
