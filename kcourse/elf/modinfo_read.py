"""Read what `modinfo` shows from a module file: the .modinfo strings and the signature.

The fast path reads only the ELF header, the section headers (with .shstrtab, which the
linker puts just before them), .modinfo and the file's tail (the appended signature) with
os.pread: a handful of system calls per file and no pyelftools, so `kcourse modinfo` over a
whole distribution's modules is as fast as kmod's. Anything unusual (compressed files,
extended section numbering, odd layouts) takes the slow path through the validating parser.
"""

from __future__ import annotations

import os
import struct

from kcourse.elf import signature
from kcourse.errors import KoFormatError

_EHDR = struct.Struct("<4sB11xHHIQQQIHHHHHH")
_SHDR = struct.Struct("<IIQQQQIIQQ")  # Elf64_Shdr
_SHT_NOBITS = 8


def split_modinfo(data: bytes) -> list[bytes]:
    """The NUL-separated strings of .modinfo, exactly as kmod's kmod_elf_get_strings splits.

    Leading NUL padding is skipped, runs of NULs separate strings, a last unterminated string
    counts, and a section of at most one byte after the padding holds nothing.
    """
    data = data.lstrip(b"\0") or data[-1:]
    if len(data) <= 1:
        return []
    return [s for s in data.split(b"\0") if s]


def _read_fast(path: str) -> tuple[list[bytes], tuple | None] | None:
    """(modinfo strings, signature) by pread for a plain ELF64 file; None -> use the slow path."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as err:
        raise KoFormatError(f"{path}: {err.strerror}") from None
    try:
        size = os.fstat(fd).st_size
        head = os.pread(fd, 64, 0)
        if len(head) < 64 or head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
            return None
        (_m, _c, _t, _mach, _v, _e, _ph, shoff, _f, _eh, _phs, _phn, shentsize, shnum,
         shstrndx) = _EHDR.unpack(head)
        if (shentsize != 64 or not 0 < shnum or shstrndx >= shnum or shstrndx == 0
                or shoff + shnum * 64 > size or shoff < 64):
            return None
        # From just before the section headers (where the linker puts .shstrtab) to the end
        # of the file (the signature, if any): usually every byte we need but .modinfo.
        start = max(shoff - 1024, 0)
        tail = os.pread(fd, size - start, start)
        table = tail[shoff - start : shoff - start + shnum * 64]
        _n, typ, _fl, _a, str_off, str_size, *_ = _SHDR.unpack_from(table, shstrndx * 64)
        if typ == _SHT_NOBITS or str_off + str_size > size:
            return None
        names = (tail[str_off - start : str_off - start + str_size] if str_off >= start
                 else os.pread(fd, str_size, str_off))
        wanted = set()
        pos = names.find(b".modinfo\0")
        while pos >= 0:
            wanted.add(pos)
            pos = names.find(b".modinfo\0", pos + 1)
        strings: list[bytes] | None = None
        if wanted:
            name_col = memoryview(table).cast("I")[::16].tolist()
            for index in range(1, shnum):  # kmod_elf_get_section starts at 1
                if name_col[index] in wanted:
                    _n, typ, _fl, _a, off, sz, *_ = _SHDR.unpack_from(table, index * 64)
                    if off + sz > size:
                        continue
                    data = (tail[off - start : off - start + sz] if off >= start
                            else os.pread(fd, sz, off))
                    strings = split_modinfo(data)
                    break
        if strings is None:
            raise KoFormatError(f"{path}: no .modinfo section")
        sig = None
        if tail.endswith(signature.MAGIC):
            sig = _signature_fields(tail, fast=True)
            if sig is None and start > 0:  # the appended data reaches before our tail read
                sig = _signature_fields(os.pread(fd, size, 0), fast=True)
        return strings, sig
    finally:
        os.close(fd)


def _signature_fields(raw: bytes, fast: bool = False) -> tuple | None:
    sig = signature.read_signature(raw, fast=fast)
    if sig is None:
        return None
    return (sig.id_type, sig.signer, sig.key_id, sig.hash, sig.signature)


def _read_slow(path: str) -> tuple[list[bytes], tuple | None]:
    """Any file KoFile accepts (compressed, extended numbering, odd layouts), validated."""
    from kcourse.elf import elf64, image

    raw, _kind = image.load(path)
    header = elf64.parse_header(path, raw)
    sections = elf64.parse_sections(path, raw, header)
    sec = next((s for s in sections[1:] if s.name == ".modinfo"), None)
    if sec is None:
        raise KoFormatError(f"{path}: no .modinfo section")
    return split_modinfo(elf64.section_bytes(raw, sec)), _signature_fields(raw, fast=True)


def read_module(path: str) -> tuple[list[bytes], tuple | None]:
    """The raw .modinfo strings and (sig_id, signer, key_id, hash, signature) of a file."""
    fast = _read_fast(path)
    return fast if fast is not None else _read_slow(path)
