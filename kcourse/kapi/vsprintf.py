"""A placeholder for lib/vsprintf.c: %s %d %i %u %x %ld %lu %zu %llx %c %% with width and '-0'.

Replaced by the full port (kcourse/kapi/vsprintf.py on the vsprintf branch)."""

from __future__ import annotations

import re

_SPEC = re.compile(rb"%([-+ #0]*)(\d+|\*)?(?:\.(\d+|\*))?(hh|h|ll|l|z|t|j)?([diouxXcsp%])")


class BadAddress(Exception):
    pass


def vsnprintf(fmt: bytes, args, read, symbolize=None, hash_key: int = 0) -> bytes:
    out = bytearray()
    pos = 0
    for m in _SPEC.finditer(fmt):
        out += fmt[pos:m.start()]
        pos = m.end()
        flags, width, _prec, length, conv = m.groups()
        if conv == b"%":
            out += b"%"
            continue
        w = args.next_u64() if width == b"*" else int(width or 0)
        value = args.next_u64()
        bits = 64 if length in (b"l", b"ll", b"z", b"t", b"j") else 32
        if conv in b"di":
            v = value & ((1 << bits) - 1)
            if v >> (bits - 1):
                v -= 1 << bits
            text = str(v).encode()
        elif conv in b"u":
            text = str(value & ((1 << bits) - 1)).encode()
        elif conv in b"xX":
            text = format(value & ((1 << bits) - 1), "x" if conv == b"x" else "X").encode()
        elif conv == b"o":
            text = format(value & ((1 << bits) - 1), "o").encode()
        elif conv == b"c":
            text = bytes([value & 0xFF])
        elif conv == b"s":
            text = b"(null)" if value == 0 else read_cstring(read, value)
        else:
            text = format(value, "016x").encode()
        pad = w - len(text)
        if pad > 0:
            if b"-" in flags:
                text += b" " * pad
            elif b"0" in flags and conv not in b"sc":
                text = b"0" * pad + text
            else:
                text = b" " * pad + text
        out += text
    out += fmt[pos:]
    return bytes(out)


def read_cstring(read, address: int, limit: int = 4096) -> bytes:
    out = bytearray()
    while len(out) < limit:
        chunk = read(address + len(out), 1)
        if chunk == b"\0":
            break
        out += chunk
    return bytes(out)
