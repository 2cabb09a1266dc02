"""sscanf: lib/vsprintf.c vsscanf, line by line (6.1).

The kernel's scanf is its own: white space in the format matches any amount (isspace is the
kernel's ctype: \\t \\n \\v \\f \\r, space and 0xa0); %d %i %u %o %x %X with h, hh, l, ll
(L), z qualifiers parse with simple_strntoull (a width limits the characters, "0x" counts);
%c (width 1 by default) and %s (up to white space) copy; %[...] needs a width and has no
ranges; %n stores how far it got; %* skips a field up to white space; anything else, or a
field that does not start like a number, stops the scan. It returns how many fields it
stored. The pointers are the module's: a store through a bad one faults inside sscanf.
"""

from __future__ import annotations

from kcourse.kapi.registry import function
from kcourse.machine.address_space import BadAccess

SPACES = frozenset(b"\t\n\v\f\r \xa0")
SHRT_MAX, INT_MAX = 0x7FFF, 0x7FFFFFFF
MASK64 = (1 << 64) - 1
SIZES = {"H": 1, "h": 2, "l": 8, "L": 8, "z": 8}


def _skip_spaces(s: bytes, i: int) -> int:
    while i < len(s) and s[i] in SPACES:
        i += 1
    return i


def _at(s: bytes, i: int) -> int:
    return s[i] if i < len(s) else 0


def _is_xdigit(c: int) -> bool:
    return chr(c) in "0123456789abcdefABCDEF" if c else False


def strntoull(s: bytes, i: int, max_chars: int, base: int) -> tuple[int, int]:
    """simple_strntoull: (value mod 2**64, index after it); _parse_integer_fixup_radix first."""
    start = i
    if base == 0:
        if _at(s, i) == ord("0"):
            base = 16 if (_at(s, i + 1) | 0x20) == ord("x") and _is_xdigit(_at(s, i + 2)) else 8
        else:
            base = 10
    if base == 16 and _at(s, i) == ord("0") and (_at(s, i + 1) | 0x20) == ord("x"):
        i += 2
    if i - start >= max_chars:
        return 0, start + max_chars  # field too short for prefix + digit
    result, left = 0, max_chars - (i - start)
    while left:
        c = _at(s, i)
        lc = c | 0x20
        if ord("0") <= c <= ord("9"):
            val = c - ord("0")
        elif ord("a") <= lc <= ord("f"):
            val = lc - ord("a") + 10
        else:
            break
        if val >= base:
            break
        result = (result * base + val) & MASK64
        i += 1
        left -= 1
    return result, i


def vsscanf(s: bytes, fmt: bytes, next_arg, store) -> int:
    """store(pointer, bytes) writes a field; next_arg() gives the next pointer argument."""
    i, f, num = 0, 0, 0
    while _at(fmt, f):
        if _at(fmt, f) in SPACES:
            f = _skip_spaces(fmt, f + 1)
            i = _skip_spaces(s, i)
        if _at(fmt, f) != ord("%") and _at(fmt, f):
            matched = _at(fmt, f) == _at(s, i)
            f, i = f + 1, i + 1
            if not matched:
                break
            continue
        if not _at(fmt, f):
            break
        f += 1
        if _at(fmt, f) == ord("*"):  # skip this conversion
            if not _at(s, i):
                break
            while _at(fmt, f) and _at(fmt, f) not in SPACES and _at(fmt, f) != ord("%"):
                if _at(fmt, f) == ord("["):
                    return num
                f += 1
            while _at(s, i) and _at(s, i) not in SPACES:
                i += 1
            continue
        width = -1
        if chr(_at(fmt, f)).isdigit() and _at(fmt, f) < 128:
            n = 0
            while _at(fmt, f) and chr(_at(fmt, f)).isdigit() and _at(fmt, f) < 128:
                n = n * 10 + _at(fmt, f) - ord("0")
                f += 1
            width = ((n & 0xFFFF) ^ 0x8000) - 0x8000  # s16 field_width
            if width <= 0:
                break
        qualifier = None
        if chr(_at(fmt, f)) in "hlLz":
            qualifier = chr(_at(fmt, f)) if _at(fmt, f) != ord("L") else "L"
            f += 1
            if qualifier in "hl" and _at(fmt, f) == ord(qualifier):
                qualifier = {"h": "H", "l": "L"}[qualifier]
                f += 1
        if not _at(fmt, f):
            break
        if _at(fmt, f) == ord("n"):
            store(next_arg(), i.to_bytes(4, "little"))
            f += 1
            continue
        if not _at(s, i):
            break
        conv = chr(_at(fmt, f))
        f += 1
        if conv == "c":
            out = bytearray()
            left = 1 if width == -1 else width
            while True:
                out.append(_at(s, i))
                i += 1
                left -= 1
                if left <= 0 or not _at(s, i):
                    break
            store(next_arg(), bytes(out))
            num += 1
            continue
        if conv == "s":
            left = SHRT_MAX if width == -1 else width
            i = _skip_spaces(s, i)
            out = bytearray()
            while _at(s, i) and _at(s, i) not in SPACES and left:
                out.append(s[i])
                i += 1
                left -= 1
            store(next_arg(), bytes(out) + b"\0")
            num += 1
            continue
        if conv == "[":
            pointer = next_arg()
            if width == -1:
                return num
            negate = _at(fmt, f) == ord("^")
            if negate:
                f += 1
            chars = set()
            while _at(fmt, f) and _at(fmt, f) != ord("]"):
                chars.add(_at(fmt, f))
                f += 1
            if not _at(fmt, f) or not chars:
                return num
            f += 1
            allowed = (set(range(1, 256)) - chars) if negate else chars
            if _at(s, i) not in allowed:
                return num
            out = bytearray()
            while _at(s, i) in allowed and width:
                out.append(s[i])
                i += 1
                width -= 1
            store(pointer, bytes(out) + b"\0")
            num += 1
            continue
        if conv == "%":
            if _at(s, i) != ord("%"):
                return num
            i += 1
            continue
        bases = {"o": 8, "x": 16, "X": 16, "i": 0, "d": 10, "u": 10}
        if conv not in bases:
            return num  # invalid format; stop here
        base, is_sign = bases[conv], conv in "id"
        i = _skip_spaces(s, i)
        digit = _at(s, i)
        if is_sign and digit == ord("-"):
            if width == 1:
                break
            digit = _at(s, i + 1)
        isdigit = ord("0") <= digit <= ord("9")
        if not digit or (base == 16 and not _is_xdigit(digit)) or \
                (base in (10, 0) and not isdigit) or (base == 8 and (not isdigit or
                                                                     digit > ord("7"))):
            break
        limit = width if width >= 0 else INT_MAX
        if is_sign and _at(s, i) == ord("-") and limit > 0:
            value, nxt = strntoull(s, i + 1, limit - 1, base)
            value = -value & MASK64
        else:
            value, nxt = strntoull(s, i, limit, base)
        size = SIZES.get(qualifier, 4)
        store(next_arg(), (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little"))
        num += 1
        i = nxt
    return num


@function("int sscanf(const char *buf, const char *fmt, ...)", "lib/vsprintf.c")
def sscanf(call, buf, fmt):
    space = call.machine.space
    args = call.varargs()

    def store(pointer: int, data: bytes) -> None:
        try:
            space.write(pointer, data)
        except BadAccess:
            from kcourse.machine.machine import ModuleFault

            raise ModuleFault(14, call.machine.address_of("sscanf"), pointer,
                              call.machine.cpu.registers()) from None

    text = buf or b""  # the ABI decoder read the C string (an unmapped one faults there)
    return vsscanf(text, fmt or b"", args.next_u64, store)
