"""The kernel's printf engine: lib/vsprintf.c vsnprintf() of Linux 6.1, in pure Python.

    vsnprintf(b"%s: %d\\n", args, read) -> b"hello: 42\\n"

`args` hands out the variadic arguments as 64-bit slots, in order (the x86-64 va_list);
`read(address, length)` reads the module's memory for %s, %ph, %pM and friends, and raises
BadAddress where the real kernel would fault (vsnprintf() does not catch that: an oops);
`symbolize(address)` is kallsyms for %pS. The result is the whole text: snprintf() and printk
truncate it to their buffer.

Where the kernel deliberately differs from C's printf, this follows the kernel (the cases are
in lib/test_printf.c): %n and every unknown conversion stop the output there (with a WARN);
the length modifiers are hh h l ll L z t only (j and q are unknown); a negative `*` precision
means 0 and "%.s" means no precision; zero with precision 0 still prints "0"; '0' padding is
kept with a precision; %#x of 0 is "0x0"; %s of NULL is "(null)", of the first page or an
ERR_PTR "(efault)"; %p prints a 32-bit hash in 16 hex digits. docs/vsprintf.md has the table.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from kcourse.kapi.vsprintf_number import (
    FIELD_WIDTH_MAX,
    LEFT,
    PLUS,
    PRECISION_MAX,
    SIGN,
    SMALL,
    SPACE,
    SPECIAL,
    ZEROPAD,
    BadAddress,
    KernelWarning,
    Memory,
    Spec,
    bitfield,
    number,
    read_cstring,
    string,
    to_int,
)
from kcourse.kapi.vsprintf_pointer import Context, Symbolize, UnsupportedConversion, pointer

__all__ = [
    "Args", "BadAddress", "Formatted", "KernelWarning", "Memory", "Symbolize",
    "UnsupportedConversion", "read_cstring", "vsnprintf",
]


class Args(Protocol):
    """The va_list: successive 64-bit argument slots."""

    def next_u64(self) -> int:
        """The next integer/pointer argument (unsigned 64-bit)."""
        ...


# lib/vsprintf.c enum format_type
(NONE, WIDTH, PRECISION, CHAR, STR, PTR, PERCENT_CHAR, INVALID, LONG_LONG, ULONG, LONG,
 UBYTE, BYTE, USHORT, SHORT, UINT, INT, SIZE_T, PTRDIFF) = range(19)

_FLAG_CHARS = {ord("-"): LEFT, ord("+"): PLUS, ord(" "): SPACE, ord("#"): SPECIAL,
               ord("0"): ZEROPAD}
_SIMPLE = {ord("c"): CHAR, ord("s"): STR, ord("p"): PTR, ord("%"): PERCENT_CHAR}
# FORMAT_TYPE_* by qualifier; for l, hh, h and none the signed type is the next one
_BY_QUALIFIER = {ord("L"): LONG_LONG, ord("l"): ULONG, ord("z"): SIZE_T, ord("t"): PTRDIFF,
                 ord("H"): UBYTE, ord("h"): USHORT}
_DIGITS = b"0123456789"
_ALNUM = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _skip_atoi(fmt: bytes, pos: int) -> tuple[int, int]:
    """lib/vsprintf.c skip_atoi(): the digits at pos, in int arithmetic (which wraps)."""
    value = 0
    while pos < len(fmt) and fmt[pos] in _DIGITS:
        value = bitfield(value * 10 + fmt[pos] - ord("0"), 32)
        pos += 1
    return value, pos


def format_decode(fmt: bytes, start: int, spec: Spec, ctx: Context) -> int:
    """lib/vsprintf.c format_decode(): decode one token at `start`, return its length.

    `spec` persists between calls, as in C: a '*' width or precision returns early, the
    caller fetches the argument, and the next call carries on from there.
    """
    at = start
    c = fmt[at] if at < len(fmt) else 0
    stage = "flags"
    if spec.type == WIDTH:  # we finished early by reading the field width
        if spec.field_width < 0:
            spec.field_width = -spec.field_width
            spec.flags |= LEFT
        spec.type, stage = NONE, "precision"
    elif spec.type == PRECISION:  # we finished early by reading the precision
        if spec.precision < 0:
            spec.precision = 0
        spec.type, stage = NONE, "qualifier"
    else:
        spec.type = NONE
        percent = fmt.find(b"%", start)
        end = len(fmt) if percent < 0 else percent
        if end != start or end == len(fmt):  # the non-format string up to the next '%'
            return end - start
        spec.flags = 0
        at += 1  # this also skips the first '%'
        while at < len(fmt) and fmt[at] in _FLAG_CHARS:
            spec.flags |= _FLAG_CHARS[fmt[at]]
            at += 1
        spec.field_width = -1
        c = fmt[at] if at < len(fmt) else 0
        if c in _DIGITS and c:
            width, at = _skip_atoi(fmt, at)
            spec.field_width = bitfield(width, 24)  # a signed 24-bit field
        elif c == ord("*"):  # it's the next argument
            spec.type = WIDTH
            return at + 1 - start
        stage = "precision"
    if stage == "precision":
        spec.precision = -1
        if fmt[at : at + 1] == b".":
            at += 1
            c = fmt[at] if at < len(fmt) else 0
            if c in _DIGITS and c:
                precision, at = _skip_atoi(fmt, at)
                spec.precision = max(bitfield(precision, 16), 0)  # a signed 16-bit field
            elif c == ord("*"):  # it's the next argument
                spec.type = PRECISION
                return at + 1 - start
    qualifier = fmt[at] if at < len(fmt) else 0
    if qualifier in b"hlLzt" and qualifier:
        at += 1
        if fmt[at : at + 1] == bytes([qualifier]) and qualifier in b"lh":
            qualifier = ord("L") if qualifier == ord("l") else ord("H")
            at += 1
    else:
        qualifier = 0
    spec.base = 10  # default base
    conv = fmt[at] if at < len(fmt) else 0
    if conv in _SIMPLE:
        spec.type = _SIMPLE[conv]
        return at + 1 - start
    if conv == ord("o"):
        spec.base = 8
    elif conv in b"xX" and conv:
        spec.base = 16
        if conv == ord("x"):
            spec.flags |= SMALL
    elif conv in b"di" and conv:
        spec.flags |= SIGN
    elif conv != ord("u"):  # %n "poses a greater security risk than utility"; all else
        ctx.warning(2661, "format_decode",
                    f"Please remove unsupported %{chr(conv)} in format string\n")
        spec.type = INVALID
        return at - start
    signed = spec.flags & SIGN
    spec.type = _BY_QUALIFIER.get(qualifier, UINT) + (0 if qualifier in b"Lzt" else signed)
    return at + 1 - start


def _set_field_width(spec: Spec, width: int, ctx: Context) -> None:
    """lib/vsprintf.c set_field_width() (a function of its own in Debian's build)."""
    spec.field_width = bitfield(width, 24)
    if spec.field_width != width:
        ctx.warning(2693, "set_field_width", f"field width {width} too large")
        spec.field_width = min(max(width, -FIELD_WIDTH_MAX), FIELD_WIDTH_MAX)


def _set_precision(spec: Spec, prec: int, ctx: Context) -> None:
    """lib/vsprintf.c set_precision() (a function of its own in Debian's build)."""
    spec.precision = bitfield(prec, 16)
    if spec.precision != prec:
        ctx.warning(2702, "set_precision", f"precision {prec} too large")
        spec.precision = min(max(prec, 0), PRECISION_MAX)


def _pad_while_predecrement(width: int) -> tuple[int, int]:
    """C's `while (--width > 0) emit(' ');`: how many spaces, and width afterwards."""
    return (width - 1, 0) if width - 1 > 0 else (0, width - 1)


# how FORMAT_TYPE_* reads its va_arg: (bits kept, signed)
_INTEGER_ARG = {LONG_LONG: (64, True), ULONG: (64, False), LONG: (64, True),
                SIZE_T: (64, False), PTRDIFF: (64, True), UBYTE: (8, False), BYTE: (8, True),
                USHORT: (16, False), SHORT: (16, True), UINT: (32, False), INT: (32, True)}


class Formatted(bytes):
    """The text vsnprintf() stored, with `.length`: how long it is untruncated (what C's
    vsnprintf() returns). Without a size they are the same."""

    length: int


class _Output:
    """The buffer between buf and end: stores at most `size` bytes, counts them all."""

    def __init__(self, size: int | None):
        self.data, self.length, self.size = bytearray(), 0, size

    def add(self, piece: bytes) -> None:
        self.length += piece.length if isinstance(piece, Formatted) else len(piece)
        if self.size is None:
            self.data += piece
        elif len(self.data) < self.size:
            self.data += piece[: self.size - len(self.data)]

    def room(self) -> int | None:
        return None if self.size is None else self.size - len(self.data)

    def result(self) -> Formatted:
        text = Formatted(self.data)
        text.length = self.length
        return text


def _format(fmt: bytes, args: Args, ctx: Context, size: int | None) -> Formatted:
    """lib/vsprintf.c vsnprintf(): the main loop, token by token."""
    fmt = fmt.split(b"\0", 1)[0]
    out = _Output(size)
    spec = Spec(type=NONE, field_width=0, flags=0, base=0, precision=0)  # = {0}
    pos = 0
    while pos < len(fmt):
        old = pos
        pos += format_decode(fmt, pos, spec, ctx)
        kind = spec.type
        if kind == NONE:
            out.add(fmt[old:pos])
        elif kind == WIDTH:
            _set_field_width(spec, to_int(args.next_u64()), ctx)
        elif kind == PRECISION:
            _set_precision(spec, to_int(args.next_u64()), ctx)
        elif kind == CHAR:
            width, before = spec.field_width, 0
            if not spec.flags & LEFT:
                before, width = _pad_while_predecrement(width)
            char = bytes([args.next_u64() & 0xFF])  # (unsigned char) va_arg(args, int)
            after, spec.field_width = _pad_while_predecrement(width)
            out.add(b" " * before + char + b" " * after)
        elif kind == STR:
            out.add(string(ctx.read, args.next_u64(), spec))
        elif kind == PTR:
            ctx.room = out.room()
            out.add(pointer(ctx, fmt[pos:], args.next_u64(), spec))
            while pos < len(fmt) and fmt[pos] in _ALNUM:
                pos += 1
        elif kind == PERCENT_CHAR:
            out.add(b"%")
        elif kind == INVALID:
            # "there is no safe or sane way for us to continue parsing the format and
            # fetching from the va_list; the remaining specifiers and arguments would be
            # out of sync."
            break
        else:
            bits, signed = _INTEGER_ARG[kind]
            raw = args.next_u64()
            num = bitfield(raw, bits) if signed else raw & ((1 << bits) - 1)
            out.add(number(num, spec))
    return out.result()


def vsnprintf(fmt: bytes, args: Args, read: Memory, symbolize: Symbolize | None = None,
              hash_key: int = 0, *, size: int | None = None,
              on_warning: Callable[[KernelWarning], None] | None = None) -> Formatted:
    """The formatted bytes (no size limit applied; callers truncate as snprintf does).

    With `size`, at most that many bytes are kept (the buffer minus its NUL) and `.length`
    of the result is the untruncated length; memory then stays bounded whatever the widths.
    `hash_key` stands for the boot-time ptr_key of %p (low 64 bits key[0], next 64 key[1]).
    `on_warning` receives each WARN_ONCE() the kernel would raise (%n, unknown conversions,
    huge '*' widths); once-only state is the caller's. Raises BadAddress from `read`, and
    UnsupportedConversion for a %p extension on a kernel structure kcourse does not model.
    """
    ctx = Context(read, symbolize, hash_key, on_warning, lambda f, a, n: _format(f, a, ctx, n))
    return _format(bytes(fmt), args, ctx, size)
