"""Hostile variants of a real .ko, for the bad-input promise (tests/test_fuzz_ko.py,
benchmarks/fuzz_ko.py): truncations, byte flips in the headers, absurd counts and offsets,
broken strings and signatures, corrupt compressed streams, decompression bombs.

Every mutation is a pure function of (bytes, random.Random), so a seed reproduces a case.
"""

from __future__ import annotations

import gzip
import lzma
import random
import struct

from kcourse.elf.elf64 import SHDR
from kcourse.elf.signature import MAGIC


def _layout(data: bytes) -> tuple[int, int]:
    """(e_shoff, e_shnum) if the header is still readable, else (0, 0)."""
    if len(data) < 64:
        return 0, 0
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    shnum = struct.unpack_from("<H", data, 0x3C)[0]
    if shoff + shnum * 64 > len(data):
        return 0, 0
    return shoff, shnum


def truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(0, max(len(data), 1))]


def flip_bytes(data: bytes, rng: random.Random, start: int = 0, end: int | None = None,
               count: int | None = None) -> bytes:
    out = bytearray(data)
    end = len(out) if end is None else min(end, len(out))
    if end <= start:
        return bytes(out)
    for _ in range(count or rng.randint(1, 8)):
        out[rng.randrange(start, end)] = rng.randrange(256)
    return bytes(out)


def flip_elf_header(data: bytes, rng: random.Random) -> bytes:
    return flip_bytes(data, rng, 0, 64)


def flip_section_headers(data: bytes, rng: random.Random) -> bytes:
    shoff, shnum = _layout(data)
    if not shnum:
        return flip_elf_header(data, rng)
    return flip_bytes(data, rng, shoff, shoff + shnum * 64, rng.randint(1, 16))


def huge_shnum(data: bytes, rng: random.Random) -> bytes:
    if len(data) < 64:
        return data
    out = bytearray(data)
    struct.pack_into("<H", out, 0x3C, rng.choice([0xFFFF, 0xFF00, 0x8000, 0, 1]))
    return bytes(out)


def bad_shoff(data: bytes, rng: random.Random) -> bytes:
    if len(data) < 64:
        return data
    out = bytearray(data)
    value = rng.choice([len(data), len(data) - 1, 2**63, 2**64 - 1, 1, 0x20])
    struct.pack_into("<Q", out, 0x28, value)
    return bytes(out)


def bad_shstrndx(data: bytes, rng: random.Random) -> bytes:
    if len(data) < 64:
        return data
    out = bytearray(data)
    struct.pack_into("<H", out, 0x3E, rng.choice([0, 0xFFFF, 0xFFF1, rng.randrange(1, 200)]))
    return bytes(out)


def bad_section_field(data: bytes, rng: random.Random) -> bytes:
    """One field of one section header set to an absurd value."""
    shoff, shnum = _layout(data)
    if not shnum:
        return huge_shnum(data, rng)
    out = bytearray(data)
    index = rng.randrange(shnum)
    fields = list(SHDR.unpack_from(out, shoff + index * 64))
    which = rng.choice([0, 1, 4, 5, 6, 7, 9])  # name, type, offset, size, link, info, entsize
    wide = which in (4, 5, 9)
    fields[which] = rng.choice([len(data) + 1, 2**32 - 1, 0, 1] + ([2**64 - 1, 2**63]
                                                                   if wide else [0xFFFF]))
    SHDR.pack_into(out, shoff + index * 64, *fields)
    return bytes(out)


def section_points_at_itself(data: bytes, rng: random.Random) -> bytes:
    """sh_link/sh_info loops: a symbol table whose string table is itself, and so on."""
    shoff, shnum = _layout(data)
    if not shnum:
        return data
    out = bytearray(data)
    index = rng.randrange(shnum)
    fields = list(SHDR.unpack_from(out, shoff + index * 64))
    fields[6] = index
    fields[7] = index
    if rng.random() < 0.5:
        fields[1] = rng.choice([2, 4, 9, 17])  # SYMTAB, RELA, REL, GROUP
    SHDR.pack_into(out, shoff + index * 64, *fields)
    return bytes(out)


def strip_nuls(data: bytes, rng: random.Random) -> bytes:
    """Replace NULs inside some section (string tables, .modinfo) with letters."""
    shoff, shnum = _layout(data)
    if not shnum:
        return data
    out = bytearray(data)
    _n, _t, _f, _a, off, size, *_ = SHDR.unpack_from(out, shoff + rng.randrange(shnum) * 64)
    for i in range(off, min(off + size, len(out))):
        if out[i] == 0:
            out[i] = 0x41
    return bytes(out)


def bad_signature(data: bytes, rng: random.Random) -> bytes:
    """A signature trailer with lying lengths, or garbage where the PKCS#7 should be."""
    sig_len = rng.choice([0, 1, 40, len(data), 2**32 - 1, rng.randrange(1, 4096)])
    trailer = struct.pack(">BBBBB3xI", rng.randrange(3), rng.randrange(10), rng.randrange(4),
                          rng.randrange(256), rng.randrange(256), sig_len)
    body = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 600)))
    if rng.random() < 0.5:
        body = b"\x30\x82" + body  # looks like a DER SEQUENCE
    return data + body + trailer + MAGIC


def compressed(data: bytes, rng: random.Random) -> bytes:
    kind = rng.choice(["xz", "zst", "gz"])
    if kind == "xz":
        blob = lzma.compress(data, preset=0)
    elif kind == "gz":
        blob = gzip.compress(data, compresslevel=1)
    else:
        import zstandard

        blob = zstandard.ZstdCompressor(level=1).compress(data)
    how = rng.choice(["truncate", "flip", "both", "clean"])
    if how in ("truncate", "both"):
        blob = blob[: rng.randrange(1, max(len(blob), 2))]
    if how in ("flip", "both"):
        blob = flip_bytes(blob, rng, 0, len(blob), rng.randint(1, 4))
    return blob


MUTATIONS = {
    "truncate": truncate, "flip_bytes": flip_bytes, "flip_elf_header": flip_elf_header,
    "flip_section_headers": flip_section_headers, "huge_shnum": huge_shnum,
    "bad_shoff": bad_shoff, "bad_shstrndx": bad_shstrndx, "bad_section_field": bad_section_field,
    "section_points_at_itself": section_points_at_itself, "strip_nuls": strip_nuls,
    "bad_signature": bad_signature, "compressed": compressed,
}


def mutate(data: bytes, rng: random.Random, kind: str | None = None) -> tuple[str, bytes]:
    """(mutation name, mutated bytes); sometimes two mutations stacked."""
    kind = kind or rng.choice(sorted(MUTATIONS))
    out = MUTATIONS[kind](data, rng)
    if kind != "compressed" and rng.random() < 0.2:
        second = rng.choice(sorted(set(MUTATIONS) - {"compressed"}))
        out = MUTATIONS[second](out, rng)
        kind = f"{kind}+{second}"
    return kind, out


def bomb(kind: str, size: int) -> bytes:
    """A compressed stream of an ELF-looking header followed by `size` zero bytes, made in
    1 MiB chunks (the stream is small; its expansion is not)."""
    head = b"\x7fELF\x02\x01\x01" + bytes(57)
    chunk = bytes(1 << 20)
    if kind == "xz":
        comp = lzma.LZMACompressor(preset=1)
    elif kind == "gz":
        import zlib

        comp = zlib.compressobj(1, wbits=31)
    else:
        import zstandard

        comp = zstandard.ZstdCompressor(level=1).compressobj()
    parts = [comp.compress(head)]
    for _ in range(size // len(chunk)):
        parts.append(comp.compress(chunk))
    parts.append(comp.flush())
    return b"".join(parts)
