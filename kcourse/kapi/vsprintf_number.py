"""The building blocks of lib/vsprintf.c (Linux 6.1): struct printf_spec, number(), the string
helpers and the pointer checks that every conversion shares.

Each function is named after the C function it mirrors and returns the bytes that function
would have written. The kernel's vsnprintf() computes the whole output even when the buffer is
too small (it only stops storing), so a size limit changes nothing here: callers truncate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

MASK64 = (1 << 64) - 1
PAGE_SIZE = 4096
MAX_ERRNO = 4095  # include/linux/err.h

# lib/vsprintf.c: the flags of struct printf_spec
SIGN = 1  # unsigned/signed
LEFT = 2  # left justified
PLUS = 4  # show plus
SPACE = 8  # space if plus
ZEROPAD = 16  # pad with zero, must be 16 == '0' - ' '
SMALL = 32  # use lowercase in hex (must be 32 == 0x20)
SPECIAL = 64  # prefix hex with "0x", octal with "0"

FIELD_WIDTH_MAX = (1 << 23) - 1
PRECISION_MAX = (1 << 15) - 1


class BadAddress(Exception):
    """A read of memory that is not mapped: where the real kernel would take a page fault."""

    def __init__(self, address: int, length: int = 1):
        super().__init__(f"unable to handle page fault for address: {address:016x}")
        self.address, self.length = address, length


Memory = Callable[[int, int], bytes]


def bitfield(value: int, bits: int) -> int:
    """What a signed C bitfield of `bits` bits holds after `field = value` (gcc: modulo)."""
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def at(fmt: bytes, i: int) -> int:
    """fmt[i] as C reads it: the NUL after the end of the format reads as 0."""
    return fmt[i] if i < len(fmt) else 0


def to_int(value: int) -> int:
    """va_arg(args, int): the low 32 bits of the slot, signed."""
    return bitfield(value, 32)


@dataclass
class Spec:
    """struct printf_spec: field_width is a signed 24-bit field, precision a signed 16-bit one."""

    type: int = 0
    field_width: int = -1
    flags: int = 0
    base: int = 10
    precision: int = -1


def is_err_value(ptr: int) -> bool:
    """include/linux/err.h IS_ERR_VALUE(): the top 4095 addresses are -errno codes."""
    return (ptr & MASK64) >= (MASK64 + 1 - MAX_ERRNO)


def number(num: int, spec: Spec) -> bytes:
    """lib/vsprintf.c number(): sign, "0x"/"0" prefix, precision zeros and padding."""
    num &= MASK64
    flags, base = spec.flags, spec.base
    need_pfx = bool(flags & SPECIAL) and base != 10
    is_zero = num == 0
    field_width, precision = spec.field_width, spec.precision
    locase = flags & SMALL
    if flags & LEFT:
        flags &= ~ZEROPAD
    sign = b""
    if flags & SIGN:
        if num >> 63:
            sign, num = b"-", (-num) & MASK64
            field_width -= 1
        elif flags & PLUS:
            sign = b"+"
            field_width -= 1
        elif flags & SPACE:
            sign = b" "
            field_width -= 1
    if need_pfx:
        if base == 16:
            field_width -= 2
        elif not is_zero:
            field_width -= 1
    # the digits; hex_asc_upper[d] | locase lowers the letters only
    if base == 16:
        digits = format(num, "X" if not locase else "x").encode()
    elif base == 8:
        digits = format(num, "o").encode()
    else:
        digits = str(num).encode()
    i = len(digits)
    # printing 100 using %2d gives "100", not "00"
    if i > precision:
        precision = i
    field_width -= precision
    out = bytearray()
    if not flags & (ZEROPAD | LEFT):  # leading space padding
        out += b" " * max(field_width, 0)
        field_width = -1
    out += sign
    if need_pfx:  # "0x" / "0" prefix
        if base == 16 or not is_zero:
            out += b"0"
        if base == 16:
            out += b"x" if locase else b"X"
    if not flags & LEFT:  # zero or space padding
        out += (b"0" if flags & ZEROPAD else b" ") * max(field_width, 0)
        field_width = -1
    out += b"0" * (precision - i)  # hmm even more zero padding?
    out += digits
    out += b" " * max(field_width, 0)  # trailing space padding
    return bytes(out)


def special_hex_number(num: int, size: int) -> bytes:
    """lib/vsprintf.c special_hex_number(): "0x" and 2*size hex digits, zero padded."""
    spec = Spec(field_width=2 + 2 * size, flags=SPECIAL | SMALL | ZEROPAD, base=16)
    return number(num, spec)


def widen_string(text: bytes, spec: Spec) -> bytes:
    """lib/vsprintf.c widen_string(): pad to the field width, spaces only, even with '0'."""
    if len(text) >= spec.field_width:
        return text
    spaces = b" " * (spec.field_width - len(text))
    return text + spaces if spec.flags & LEFT else spaces + text


def string_nocheck(s: bytes, spec: Spec) -> bytes:
    """lib/vsprintf.c string_nocheck(): up to the NUL or `precision` characters, widened."""
    s = s.split(b"\0", 1)[0]
    if spec.precision >= 0:
        s = s[: spec.precision]
    return widen_string(s, spec)


def error_string(s: bytes, spec: Spec) -> bytes:
    """lib/vsprintf.c error_string(): at most 2*sizeof(void *) = 16 characters by default."""
    if spec.precision == -1:
        spec = replace(spec, precision=16)
    return string_nocheck(s, spec)


def check_pointer_msg(ptr: int) -> bytes | None:
    """lib/vsprintf.c check_pointer_msg(): NULL, the first page and ERR_PTRs are not read."""
    if ptr == 0:
        return b"(null)"
    if ptr < PAGE_SIZE or is_err_value(ptr):
        return b"(efault)"
    return None


def check_pointer(ptr: int, spec: Spec) -> bytes | None:
    """lib/vsprintf.c check_pointer(): the error text to print instead, or None if usable."""
    msg = check_pointer_msg(ptr)
    return None if msg is None else error_string(msg, spec)


def read_cstring(read: Memory, address: int, limit: int = 4096) -> bytes:
    """The bytes of the C string at `address`, without its NUL, reading at most `limit` bytes.

    Reads a page at a time (never past a page it does not need), so a string that ends just
    before an unmapped page is read without a fault, as the kernel's byte-by-byte loop would.
    """
    out = bytearray()
    while len(out) < limit:
        addr = (address + len(out)) & MASK64
        chunk = min(limit - len(out), PAGE_SIZE - addr % PAGE_SIZE, 256)
        data = read(addr, chunk)
        nul = data.find(b"\0")
        if nul >= 0:
            out += data[:nul]
            break
        out += data
    return bytes(out)


# A %s without precision reads until the NUL, as the kernel does; this bounds a hostile
# unterminated buffer (the kernel would run on until it faulted).
STRING_LIMIT = 1 << 20


def string(read: Memory, ptr: int, spec: Spec) -> bytes:
    """lib/vsprintf.c string(): check_pointer(), then the characters at `ptr`."""
    err = check_pointer(ptr, spec)
    if err is not None:
        return err
    limit = spec.precision if spec.precision >= 0 else STRING_LIMIT
    return string_nocheck(read_cstring(read, ptr, limit), spec)


def pointer_string(ptr: int, spec: Spec) -> bytes:
    """lib/vsprintf.c pointer_string(): hex, 16 digits zero padded unless a width is given."""
    spec = replace(spec, base=16, flags=spec.flags | SMALL)
    if spec.field_width == -1:
        spec.field_width = 16  # 2 * sizeof(ptr)
        spec.flags |= ZEROPAD
    return number(ptr, spec)


@dataclass(frozen=True)
class KernelWarning:
    """A WARN_ONCE() that vsnprintf() raises: where it sits in lib/vsprintf.c and its text.

    The real kernel prints a "WARNING: CPU: ... at lib/vsprintf.c:LINE FUNCTION+0x.../0x..."
    splat the first time each one fires; the caller owns that once-only state and the splat.
    Line numbers are those of Debian's 6.1.192 source.
    """

    line: int
    function: str
    message: str
