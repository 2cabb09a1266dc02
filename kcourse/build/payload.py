"""The compressed kernel inside a bzImage: identify the method, decompress it where Python can.

arch/x86/boot/compressed/Makefile (6.1) compresses vmlinux.bin (+ vmlinux.relocs) with the
method chosen by CONFIG_KERNEL_{GZIP,BZIP2,LZMA,XZ,LZO,LZ4,ZSTD} and appends the
uncompressed size as a little-endian u32 (scripts/Makefile.lib: size_append). The boot
loader finds the payload through payload_offset/payload_length.

Who looks at the magic bytes: Documentation/x86/boot.rst (payload_offset, lines 782-787 in
6.1) tells boot loaders and tools to tell the format by them (kexec, scripts/extract-vmlinux,
and `identify` here). The kernel does not look: arch/x86/boot/compressed/misc.c includes the
one decompressor CONFIG_KERNEL_* chose (`#ifdef CONFIG_KERNEL_XZ #include
"../../../../lib/decompress_unxz.c"`, lines 63-89) and calls it. lib/decompress.c's
compressed_formats[] (the same two-byte magics, LZO too, no ELF) serves the initramfs and the
initrd (init/initramfs.c, init/do_mounts_rd.c: decompress_method). An uncompressed payload
(CONFIG_KERNEL_UNCOMPRESSED) exists only where the arch selects HAVE_KERNEL_UNCOMPRESSED
(s390 in 6.1); boot.rst's ELF line is what an x86 payload decompresses to.
"""

from __future__ import annotations

import bz2
import lzma
import struct
import zlib
from dataclasses import dataclass

from kcourse.errors import KcourseError

# Documentation/x86/boot.rst:782-787 (for boot loaders and tools) and lib/decompress.c
# compressed_formats[] (initramfs): two magic bytes each, the full magic in comments. LZO is
# only in lib/decompress.c; ELF only in boot.rst, as the decompressed payload.
MAGICS: list[tuple[bytes, str]] = [
    (b"\x1f\x8b", "gzip"),       # 1f 8b 08
    (b"\x1f\x9e", "gzip"),       # old gzip
    (b"\x42\x5a", "bzip2"),      # "BZh"
    (b"\x5d\x00", "lzma"),       # lzma "alone" header: properties 0x5d, dict size
    (b"\xfd\x37", "xz"),         # fd 37 7a 58 5a 00 ("\xfd7zXZ\0")
    (b"\x89\x4c", "lzo"),        # 89 4c 5a 4f ("\x89LZO", lzop)
    (b"\x02\x21", "lz4"),        # 02 21 4c 18: lz4 legacy frame (lz4 -l)
    (b"\x28\xb5", "zstd"),       # 28 b5 2f fd
    (b"\x7fE", "none (ELF)"),    # not on x86: CONFIG_KERNEL_UNCOMPRESSED is s390's
]

# What arch/x86/boot/compressed/misc.c decompresses, for each CONFIG_KERNEL_* choice.
DECOMPRESSOR = {"GZIP": "lib/decompress_inflate.c", "BZIP2": "lib/decompress_bunzip2.c",
                "LZMA": "lib/decompress_unlzma.c", "XZ": "lib/decompress_unxz.c",
                "LZO": "lib/decompress_unlzo.c", "LZ4": "lib/decompress_unlz4.c",
                "ZSTD": "lib/decompress_unzstd.c"}

LZ4_LEGACY_MAGIC = 0x184C2102
LZ4_LEGACY_BLOCK = 8 << 20      # lz4 legacy frames hold blocks of at most 8 MiB
# A cap on what a payload may expand to, so a hostile file (a decompression bomb) is refused
# with bounded memory. Debian's 6.1 vmlinux.bin + relocs is about 63 MiB.
MAX_OUTPUT = 256 << 20


def identify(payload: bytes) -> str:
    """The compression method named by the payload's first two bytes, or 'unknown'."""
    for magic, name in MAGICS:
        if payload.startswith(magic):
            return name
    return "unknown"


@dataclass(frozen=True)
class Decompressed:
    """Result of decompressing a payload (possibly only its beginning)."""

    method: str
    data: bytes


def decompress(payload: bytes, method: str | None = None) -> Decompressed:
    """Decompress a bzImage payload. Raises KcourseError where Python cannot."""
    method = method or identify(payload)
    try:
        data = _expand(method, payload)
        if data is not None:
            if len(data) > MAX_OUTPUT:
                raise KcourseError(f"{method} payload expands past {MAX_OUTPUT >> 20} MiB: "
                                   "refused (not a kernel)")
            return Decompressed(method, data)
    except (OSError, EOFError, IndexError, lzma.LZMAError, zlib.error, ValueError) as err:
        raise KcourseError(f"{method} payload does not decompress: {err}") from None
    if method == "lzo":
        raise KcourseError("lzo payload: Python's standard library has no LZO decompressor")
    raise KcourseError(f"unknown payload compression (first bytes {payload[:4].hex()})")


def _expand(method: str, payload: bytes) -> bytes | None:
    """At most MAX_OUTPUT + 1 bytes of the payload decompressed; None for a method we lack."""
    limit = MAX_OUTPUT + 1
    if method == "gzip":
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(payload, limit)
    if method == "bzip2":
        return bz2.BZ2Decompressor().decompress(payload, max_length=limit)
    if method in ("xz", "lzma"):
        fmt = lzma.FORMAT_XZ if method == "xz" else lzma.FORMAT_ALONE
        return lzma.LZMADecompressor(format=fmt).decompress(payload, max_length=limit)
    if method == "zstd":
        return _zstd(payload, limit)
    if method == "lz4":
        return _lz4(payload, limit)
    if method == "none (ELF)":
        return payload
    return None


def _zstd(payload: bytes, limit: int) -> bytes:
    import zstandard

    # the kernel compresses with `zstd -22 --ultra`: allow the large window that needs
    dctx = zstandard.ZstdDecompressor(max_window_size=1 << 31)
    try:
        with dctx.stream_reader(payload) as reader:
            return reader.read(limit)
    except zstandard.ZstdError as err:
        raise ValueError(str(err)) from None


def _lz4(payload: bytes, limit: int) -> bytes:
    """lz4 legacy frame (`lz4 -l`): magic, then blocks of <u32 compressed size><lz4 block>.

    The block decoder is python-lz4's (the lz4 project's own bindings)."""
    import lz4.block

    if len(payload) < 8 or struct.unpack_from("<I", payload)[0] != LZ4_LEGACY_MAGIC:
        raise ValueError("not an lz4 legacy frame")
    out, pos, end, total = [], 4, len(payload) - 4, 0   # the last 4 bytes: appended size
    while pos + 4 <= end and total < limit:
        (size,) = struct.unpack_from("<I", payload, pos)
        pos += 4
        if size == LZ4_LEGACY_MAGIC:          # concatenated frames
            continue
        block = payload[pos:pos + size]
        if len(block) != size:
            raise ValueError("truncated lz4 block")
        pos += size
        try:
            out.append(lz4.block.decompress(block, uncompressed_size=LZ4_LEGACY_BLOCK))
        except lz4.block.LZ4BlockError as err:
            raise ValueError(str(err)) from None
        total += len(out[-1])
    return b"".join(out)
