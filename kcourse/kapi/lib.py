"""Library routines modules call out of line: memcmp (lib/string.c), the kmalloc'd copies of
mm/util.c (kmemdup, kmemdup_nul, kstrdup, kstrndup), and the bitmap searches of
lib/find_bit.c and lib/bitmap.c.

memcmp returns the difference of the first two bytes that differ (as unsigned chars), not
just its sign. The find_bit functions read the bitmap a 64-bit word at a time, as the C does
(FIND_FIRST_BIT, FIND_NEXT_BIT), and return `size` when no bit is found; the copies are
kmalloc_track_caller's, charged to the calling module.
"""

from __future__ import annotations

from kcourse.kapi import slab
from kcourse.kapi.registry import function

BITS = 64
MASK = (1 << 64) - 1


@function("int memcmp(const void *cs, const void *ct, size_t count)", "lib/string.c")
def memcmp(call, cs, ct, count):
    space = call.machine.space
    for at in range(0, count, 4096):  # a page at a time, so a fault is where the C's is
        n = min(4096, count - at)
        a, b = space.read(cs + at, n), space.read(ct + at, n)
        if a != b:
            i = next(i for i in range(n) if a[i] != b[i])
            return a[i] - b[i]
    return 0


def _copy(call, address: int, length: int, gfp: int, nul: bool = False) -> int:
    """kmalloc_track_caller(length + nul) first (too big: NULL, as the ledger says), then the
    copy, so a bad source faults in the copy as memcpy's would."""
    buf = slab._kmalloc(call, length + nul, gfp)
    if buf:
        space = call.machine.space
        space.write(buf, (space.read(address, length) if length else b"") +
                    (b"\0" if nul else b""))
    return buf


@function("void *kmemdup(const void *src, size_t len, gfp_t gfp)", "mm/util.c")
def kmemdup(call, src, len, gfp):
    return _copy(call, src, len, gfp)


@function("char *kmemdup_nul(const char *s, size_t len, gfp_t gfp)", "mm/util.c")
def kmemdup_nul(call, s, len, gfp):
    at = call.raw(0)
    return _copy(call, at, len, gfp, nul=True) if at else 0


@function("char *kstrdup(const char *s, gfp_t gfp)", "mm/util.c")
def kstrdup(call, s, gfp):
    return 0 if s is None else _copy(call, call.raw(0), len(s) + 1, gfp)


@function("char *kstrndup(const char *s, size_t max, gfp_t gfp)", "mm/util.c")
def kstrndup(call, s, max, gfp):
    at = call.raw(0)
    if not at:
        return 0
    length = len(call.machine.space.read_cstring(at, max)) if max else 0  # strnlen
    return _copy(call, at, length, gfp, nul=True)


def _word(call, addr: int, idx: int) -> int:
    return call.machine.space.read_u64(addr + 8 * idx)


def _first(call, fetch, size: int) -> int:
    """FIND_FIRST_BIT."""
    idx = 0
    while idx * BITS < size:
        val = fetch(idx)
        if val:
            return min(idx * BITS + ((val & -val).bit_length() - 1), size)
        idx += 1
    return size


def _next(call, fetch, size: int, start: int) -> int:
    """FIND_NEXT_BIT."""
    if start >= size:
        return size
    idx = start // BITS
    tmp = fetch(idx) & (MASK << (start % BITS)) & MASK  # BITMAP_FIRST_WORD_MASK
    while not tmp:
        if (idx + 1) * BITS >= size:
            return size
        idx += 1
        tmp = fetch(idx)
    return min(idx * BITS + ((tmp & -tmp).bit_length() - 1), size)


@function("unsigned long _find_first_bit(const unsigned long *addr, unsigned long size)",
          "lib/find_bit.c")
def _find_first_bit(call, addr, size):
    return _first(call, lambda i: _word(call, addr, i), size)


@function("unsigned long _find_first_zero_bit(const unsigned long *addr, unsigned long size)",
          "lib/find_bit.c")
def _find_first_zero_bit(call, addr, size):
    return _first(call, lambda i: ~_word(call, addr, i) & MASK, size)


@function("unsigned long _find_next_bit(const unsigned long *addr, unsigned long nbits, "
          "unsigned long start)", "lib/find_bit.c")
def _find_next_bit(call, addr, nbits, start):
    return _next(call, lambda i: _word(call, addr, i), nbits, start)


@function("unsigned long _find_next_zero_bit(const unsigned long *addr, unsigned long nbits, "
          "unsigned long start)", "lib/find_bit.c")
def _find_next_zero_bit(call, addr, nbits, start):
    return _next(call, lambda i: ~_word(call, addr, i) & MASK, nbits, start)


@function("unsigned long _find_next_and_bit(const unsigned long *addr1, "
          "const unsigned long *addr2, unsigned long nbits, unsigned long start)",
          "lib/find_bit.c")
def _find_next_and_bit(call, addr1, addr2, nbits, start):
    return _next(call, lambda i: _word(call, addr1, i) & _word(call, addr2, i), nbits, start)


@function("unsigned long _find_last_bit(const unsigned long *addr, unsigned long size)",
          "lib/find_bit.c")
def _find_last_bit(call, addr, size):
    if not size:
        return size
    val = MASK >> (-size % BITS)  # BITMAP_LAST_WORD_MASK
    idx = (size - 1) // BITS
    while True:
        val &= _word(call, addr, idx)
        if val:
            return idx * BITS + val.bit_length() - 1
        val = MASK
        if idx == 0:
            return size
        idx -= 1


@function("unsigned int __bitmap_weight(const unsigned long *bitmap, unsigned int bits)",
          "lib/bitmap.c")
def __bitmap_weight(call, bitmap, bits):
    """BITMAP_WEIGHT: whole words, then the last one masked."""
    weight = sum(bin(_word(call, bitmap, i)).count("1") for i in range(bits // BITS))
    if bits % BITS:
        weight += bin(_word(call, bitmap, bits // BITS) & (MASK >> (-bits % BITS))).count("1")
    return weight
