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
from kcourse.kapi.registry import data, function
from kcourse.machine.address_space import BadAccess

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


# ------------------------------------------------------------------ lib/ctype.c, lib/bitrev.c
# _ctype[256], the bits of include/linux/ctype.h (_U 1, _L 2, _D 4, _C 8, _P 0x10, _S 0x20,
# _X 0x40, _SP 0x80), transcribed from lib/ctype.c
CTYPE = bytes.fromhex(
    "0808080808080808082828282828080808080808080808080808080808080808"
    "a010101010101010101010101010101004040404040404040404101010101010"
    "1041414141414101010101010101010101010101010101010101011010101010"
    "1042424242424202020202020202020202020202020202020202021010101008"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "a010101010101010101010101010101010101010101010101010101010101010"
    "0101010101010101010101010101010101010101010101100101010101010102"
    "0202020202020202020202020202020202020202020202100202020202020202")
_U, _L, _D, _P, _SP = 0x01, 0x02, 0x04, 0x10, 0x80


def tolower(c: int) -> int:
    return c | 0x20 if CTYPE[c] & _U else c  # __tolower


@data("const unsigned char _ctype[256]", "lib/ctype.c", 256)
def _ctype(machine, address):
    return CTYPE


@data("const u8 byte_rev_table[256]", "lib/bitrev.c", 256)
def byte_rev_table(machine, address):
    return bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))


@data("int fips_enabled", "crypto/fips.c", 4)
def fips_enabled(machine, address):
    return bytes(4)  # CONFIG_CRYPTO_FIPS=y, and the guest boots without fips=1


# ------------------------------------------------------------------ lib/string.c, lib/math
@function("int strncasecmp(const char *s1, const char *s2, size_t len)", "lib/string.c")
def strncasecmp(call, s1, s2, len):
    if not len:
        return 0
    a, b = call.raw(0), call.raw(1)
    space = call.machine.space
    c1 = c2 = 0
    for i in range(len):
        c1, c2 = space.read(a + i, 1)[0], space.read(b + i, 1)[0]
        if not c1 or not c2:
            break
        if c1 == c2:
            continue
        c1, c2 = tolower(c1), tolower(c2)
        if c1 != c2:
            break
    return c1 - c2


@function("bool sysfs_streq(const char *s1, const char *s2)", "lib/string.c")
def sysfs_streq(call, s1, s2):
    if s1 is None or s2 is None:
        raise BadAccess(0)  # *s1 or *s2 of NULL: the kernel faults there
    i = 0
    while i < len(s1) and i < len(s2) and s1[i] == s2[i]:
        i += 1
    a, b = s1[i:], s2[i:]
    return a == b or (not a and b == b"\n") or (a == b"\n" and not b)


@function("int match_string(const char * const *array, size_t n, const char *string)",
          "lib/string.c")
def match_string(call, array, n, string):
    space = call.machine.space
    index = 0
    while index < n:
        item = space.read_u64(array + 8 * index)
        if not item:
            break
        if string is None:
            raise BadAccess(0)  # strcmp(item, NULL)
        if space.read_cstring(item, 1 << 20) == string:
            return index
        index += 1
    return -22  # -EINVAL


@function("unsigned long gcd(unsigned long a, unsigned long b)", "lib/math/gcd.c")
def gcd(call, a, b):
    """The binary GCD of CONFIG_CPU_NO_EFFICIENT_FFS=n; gcd(0, b) is b."""
    import math

    return math.gcd(a, b) if a and b else a | b


@function("void kfree_sensitive(const void *p)", "mm/slab_common.c")
def kfree_sensitive(call, p):
    from kcourse.kapi import kmem_cache

    size = kmem_cache.ksize(call, p)
    if size:
        call.machine.space.write(p, bytes(size))  # memzero_explicit
    slab.kfree(call, p)


@function("unsigned int kmem_cache_size(struct kmem_cache *s)", "mm/slab_common.c")
def kmem_cache_size(call, s):
    from kcourse.kapi import kmem_cache

    return int.from_bytes(call.machine.space.read(s + kmem_cache.KC["object_size"], 4),
                          "little")


# ------------------------------------------------------------------ lib/hexdump.c
HEX = b"0123456789abcdef"


def hex_dump(data: bytes, rowsize: int, groupsize: int, linebuflen: int,
             ascii: bool) -> tuple[bytes, int]:
    """hex_dump_to_buffer on `data` (at most one row): what it leaves in linebuf (the bytes
    written, NUL included when it writes one) and what it returns."""
    if rowsize not in (16, 32):
        rowsize = 16
    data = data[:rowsize]
    length = len(data)
    if groupsize & (groupsize - 1) or not groupsize or groupsize > 8:
        groupsize = 1
    if length % groupsize:
        groupsize = 1
    ngroups = length // groupsize
    ascii_column = rowsize * 2 + rowsize // groupsize + 1
    out = bytearray()

    def overflow1() -> tuple[bytes, int]:
        return bytes(out), (ascii_column + length if ascii else
                            (groupsize * 2 + 1) * ngroups - 1)

    def overflow2() -> tuple[bytes, int]:
        out.append(0)
        return overflow1()

    if not linebuflen:
        return overflow1()
    if length:
        if groupsize > 1:
            width = groupsize * 2
            for j in range(ngroups):
                word = int.from_bytes(data[j * groupsize:(j + 1) * groupsize], "little")
                text = (b" " if j else b"") + f"{word:0{width}x}".encode()
                room = linebuflen - len(out)
                out += text[:room - 1] + b"\0"  # snprintf: what fits, then the NUL
                if len(text) >= room:
                    return overflow1()
                del out[-1]
        else:
            for ch in data:
                for piece in (HEX[ch >> 4], HEX[ch & 15], 0x20):
                    if linebuflen < len(out) + 2:
                        return overflow2()
                    out.append(piece)
            out.pop()
        if ascii:
            while len(out) < ascii_column:
                if linebuflen < len(out) + 2:
                    return overflow2()
                out.append(0x20)
            for ch in data:
                if linebuflen < len(out) + 2:
                    return overflow2()
                printable = ch <= 0x7F and CTYPE[ch] & (_P | _U | _L | _D | _SP)
                out.append(ch if printable else 0x2E)
    lx = len(out)
    out.append(0)
    return bytes(out), lx


@function("int hex_dump_to_buffer(const void *buf, size_t len, int rowsize, int groupsize, "
          "char *linebuf, size_t linebuflen, bool ascii)", "lib/hexdump.c")
def hex_dump_to_buffer(call, buf, len, rowsize, groupsize, linebuf, linebuflen, ascii):
    row = rowsize if rowsize in (16, 32) else 16
    data = call.machine.space.read(buf, min(len, row)) if len else b""
    written, ret = hex_dump(data, rowsize, groupsize, linebuflen, bool(ascii))
    if written:
        call.machine.space.write(linebuf, written)
    return ret


@function("void print_hex_dump(const char *level, const char *prefix_str, int prefix_type, "
          "int rowsize, int groupsize, const void *buf, size_t len, bool ascii)",
          "lib/hexdump.c")
def print_hex_dump(call, level, prefix_str, prefix_type, rowsize, groupsize, buf, len,
                   ascii):
    """Each row into a 32 * 3 + 2 + 32 + 1 byte line, then printk with DUMP_PREFIX_ADDRESS
    (%p: hashed), _OFFSET (%.8x) or none."""
    from kcourse.kapi import printk
    from kcourse.kapi.dev_printk import Slots

    if rowsize not in (16, 32):
        rowsize = 16
    level_text = (level or b"").decode("utf-8", "surrogateescape")
    prefix = (prefix_str or b"").decode("utf-8", "surrogateescape")
    for i in range(0, len, rowsize):
        data = call.machine.space.read(buf + i, min(len - i, rowsize))
        written, _ret = hex_dump(data, rowsize, groupsize, 32 * 3 + 2 + 32 + 1, bool(ascii))
        line = written.split(b"\0", 1)[0].decode("latin-1")
        if prefix_type == 1:  # DUMP_PREFIX_ADDRESS
            where = bytes(printk.format_call(call, b"%p", 64, Slots(buf + i))).decode()
            text = f"{prefix}{where}: {line}"
        elif prefix_type == 2:  # DUMP_PREFIX_OFFSET
            text = f"{prefix}{i:08x}: {line}"
        else:
            text = f"{prefix}{line}"
        call.kernel.log.printk(f"{level_text}{text}\n")
