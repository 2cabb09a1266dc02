"""Read a module file into memory: plain ELF, or an xz / zstd / gzip wrapper around one.

The wrapper is detected by its magic bytes, as kmod does (libkmod-file.c), not by the
file name. Decompression streams in chunks and stops at MAX_IMAGE bytes, so a
"decompression bomb" is refused with a clear error instead of eating the machine's memory.
Every failure is a KoFormatError whose message starts with the file name.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from kcourse.errors import KoFormatError

# The largest ELF image we accept: 3x Debian 12's biggest module (amdgpu.ko, 19 MB), and small
# enough that an xz bomb is refused in well under a second with bounded memory.
MAX_IMAGE = 64 * 1024 * 1024
_CHUNK = 1024 * 1024

XZ_MAGIC = b"\xfd7zXZ\x00"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
GZ_MAGIC = b"\x1f\x8b"
ELF_MAGIC = b"\x7fELF"


def compression_of(head: bytes) -> str | None:
    """'xz' | 'zst' | 'gz' | None from the first bytes of a file."""
    if head.startswith(XZ_MAGIC):
        return "xz"
    if head.startswith(ZSTD_MAGIC):
        return "zst"
    if head.startswith(GZ_MAGIC):
        return "gz"
    return None


def read_file(path: str | os.PathLike) -> bytes:
    """The bytes of a file, refusing directories, missing files, absurd sizes and files that
    are not regular (a FIFO would block the reader forever, /dev/zero never ends)."""
    try:
        # O_NONBLOCK: opening a FIFO with no writer must not wait for one
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except IsADirectoryError:
        raise KoFormatError(f"{path}: is a directory") from None
    except FileNotFoundError:
        raise KoFormatError(f"{path}: no such file") from None
    except OSError as err:
        raise KoFormatError(f"{path}: {err.strerror or err}") from None
    except ValueError:  # an embedded NUL byte: no such path can exist
        raise KoFormatError(f"{path!r}: no such file (the name holds a NUL byte)") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        why = "is a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise KoFormatError(f"{path}: {why}")
    with os.fdopen(fd, "rb") as handle:
        if info.st_size > MAX_IMAGE:
            raise KoFormatError(f"{path}: file is larger than {MAX_IMAGE >> 20} MiB")
        try:
            return handle.read(MAX_IMAGE + 1)
        except OSError as err:  # the file vanished from under us (NFS), or an I/O error
            raise KoFormatError(f"{path}: {err.strerror or err}") from None


def _too_big(path) -> KoFormatError:
    return KoFormatError(
        f"{path}: decompressed size exceeds {MAX_IMAGE >> 20} MiB (refusing a decompression bomb)"
    )


def _unxz(path, data: bytes) -> bytes:
    import lzma

    out = bytearray()
    dec = lzma.LZMADecompressor(format=lzma.FORMAT_AUTO)
    try:
        chunk = dec.decompress(data, max_length=_CHUNK)
        while True:
            out += chunk
            if len(out) > MAX_IMAGE:
                raise _too_big(path)
            if dec.eof or (dec.needs_input and not chunk):
                break
            chunk = dec.decompress(b"", max_length=_CHUNK)
    except lzma.LZMAError as err:
        raise KoFormatError(f"{path}: bad xz stream: {err}") from None
    if not dec.eof:
        raise KoFormatError(f"{path}: truncated xz stream")
    return bytes(out)


def _unzstd(path, data: bytes) -> bytes:
    import io

    import zstandard

    out = bytearray()
    try:
        reader = zstandard.ZstdDecompressor().stream_reader(
            io.BytesIO(data), read_across_frames=True
        )
        while True:
            chunk = reader.read(_CHUNK)
            if not chunk:
                break
            out += chunk
            if len(out) > MAX_IMAGE:
                raise _too_big(path)
    except zstandard.ZstdError as err:
        raise KoFormatError(f"{path}: bad zstd stream: {err}") from None
    if not out:
        raise KoFormatError(f"{path}: empty or truncated zstd stream")
    return bytes(out)


def _ungzip(path, data: bytes) -> bytes:
    import zlib

    out = bytearray()
    rest = data
    try:
        while rest:
            dec = zlib.decompressobj(wbits=31)  # gzip members only
            chunk = dec.decompress(rest, _CHUNK)
            while True:
                out += chunk
                if len(out) > MAX_IMAGE:
                    raise _too_big(path)
                if dec.eof or (not chunk and not dec.unconsumed_tail):
                    break
                chunk = dec.decompress(dec.unconsumed_tail, _CHUNK)
            if not dec.eof:
                raise KoFormatError(f"{path}: truncated gzip stream")
            rest = dec.unused_data
            if rest and not rest.startswith(GZ_MAGIC):
                break  # trailing garbage after the last member: ignored, as gzip(1) warns
    except zlib.error as err:
        raise KoFormatError(f"{path}: bad gzip stream: {err}") from None
    return bytes(out)


def decompress(path, data: bytes) -> tuple[bytes, str | None]:
    """(ELF image, compression) for the bytes of a module file."""
    kind = compression_of(data[:8])
    if kind == "xz":
        data = _unxz(path, data)
    elif kind == "zst":
        data = _unzstd(path, data)
    elif kind == "gz":
        data = _ungzip(path, data)
    if not data.startswith(ELF_MAGIC):
        what = f"{kind} stream does not hold" if kind else "not"
        raise KoFormatError(f"{path}: {what} an ELF file")
    return data, kind


def load(path: str | os.PathLike) -> tuple[bytes, str | None]:
    """Read and, when wrapped, decompress a module file: (ELF image, compression)."""
    return decompress(path, read_file(Path(path)))
