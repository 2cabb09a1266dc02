"""Helpers for the simulated-kernel tests: course modules and byte-patched copies of them."""

from __future__ import annotations

import struct

from kcourse.paths import course_module

MODVERSION = struct.Struct("<Q56s")


def ko_bytes(name: str) -> bytes:
    return course_module(name).read_bytes()


def patched(name: str, old: bytes, new: bytes) -> bytes:
    """The module's bytes with `old` replaced once by `new` (same length: offsets unchanged)."""
    data = ko_bytes(name)
    assert len(old) == len(new) and data.count(old) >= 1, (name, old)
    return data.replace(old, new, 1)


def with_crc(name: str, symbol: str, crc: int) -> bytes:
    """The module with the __versions CRC of `symbol` changed."""
    data = bytearray(ko_bytes(name))
    key = symbol.encode().ljust(56, b"\0")
    for off in range(0, len(data) - MODVERSION.size):
        if data[off + 8: off + 64] == key:
            struct.pack_into("<Q", data, off, crc)
            return bytes(data)
    raise AssertionError(f"{symbol} not in __versions of {name}")


def test_patched_copy_keeps_length():
    data = patched("hello", b"license=GPL", b"license=MIT")
    assert len(data) == len(ko_bytes("hello")) and b"license=MIT" in data
