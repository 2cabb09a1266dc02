"""%*ph (a buffer in hex) and %*pb / %*pbl (a bitmap), as lib/vsprintf.c of Linux 6.1 prints
them. The field width is the length (bytes for %ph, bits for %pb), not padding.
"""

from __future__ import annotations

from kcourse.kapi.vsprintf_number import (
    SMALL,
    ZEROPAD,
    Memory,
    Spec,
    at,
    check_pointer,
    number,
)

HEX_STRING_MAX = 64  # lib/vsprintf.c hex_string(): "The maximum supported length is 64 bytes"
_SEPARATORS = {ord("C"): b":", ord("D"): b"-", ord("N"): b""}


def hex_string(read: Memory, ptr: int, spec: Spec, fmt: bytes) -> bytes:
    """lib/vsprintf.c hex_string(): %*ph "c0 ff ee", %*phC ':', %*phD '-', %*phN none."""
    if spec.field_width == 0:  # nothing to print
        return b""
    err = check_pointer(ptr, spec)
    if err is not None:
        return err
    separator = _SEPARATORS.get(at(fmt, 1), b" ")
    # without a width (or a negative one) a single byte is printed
    length = min(spec.field_width, HEX_STRING_MAX) if spec.field_width > 0 else 1
    return separator.join(b"%02x" % b for b in read(ptr, length))


def _bitmap_words(read: Memory, ptr: int, nr_bits: int) -> int:
    """The first nr_bits bits of an unsigned long array, as one integer (bit 0 = bit 0)."""
    nwords = (nr_bits + 63) // 64
    value = int.from_bytes(read(ptr, 8 * nwords), "little") if nwords else 0
    return value & ((1 << nr_bits) - 1)


def bitmap_string(read: Memory, ptr: int, spec: Spec, fmt: bytes) -> bytes:
    """lib/vsprintf.c bitmap_string(): %*pb, 32-bit hex chunks from the top, comma separated."""
    nr_bits = max(spec.field_width, 0)
    err = check_pointer(ptr, spec)
    if err is not None:
        return err
    chunk = 32
    bits = _bitmap_words(read, ptr, nr_bits)
    chunksz = nr_bits & (chunk - 1) or chunk
    out = []
    i = (nr_bits + chunk - 1) // chunk * chunk - chunk  # ALIGN(nr_bits, CHUNKSZ) - CHUNKSZ
    while i >= 0:
        val = (bits >> i) & ((1 << chunksz) - 1)
        digits = Spec(flags=SMALL | ZEROPAD, base=16, precision=0)
        digits.field_width = (chunksz + 3) // 4  # DIV_ROUND_UP(chunksz, 4)
        out.append(number(val, digits))
        chunksz = chunk
        i -= chunk
    return b",".join(out)


def bitmap_list_string(read: Memory, ptr: int, spec: Spec, fmt: bytes) -> bytes:
    """lib/vsprintf.c bitmap_list_string(): %*pbl, the set bits as ranges "1-20,60000"."""
    nr_bits = max(spec.field_width, 0)
    err = check_pointer(ptr, spec)
    if err is not None:
        return err
    bits = _bitmap_words(read, ptr, nr_bits)
    out, bit = [], 0
    while bits >> bit:  # for_each_set_bitrange(rbot, rtop, bitmap, nr_bits)
        rbot = bit + ((bits >> bit) & -(bits >> bit)).bit_length() - 1
        run = bits >> rbot
        rtop = rbot + ((~run) & (run + 1)).bit_length() - 1
        out.append(b"%d" % rbot if rtop == rbot + 1 else b"%d-%d" % (rbot, rtop - 1))
        bit = rtop
    return b",".join(out)
