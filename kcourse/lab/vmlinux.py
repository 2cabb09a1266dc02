"""Unpack the ELF kernel inside a bzImage, so QEMU can boot it directly through PVH.

Why: under TCG (no KVM here) the bzImage's own decompressor spends 3-4 s unpacking the
XZ-compressed kernel before Linux even starts. Debian's kernel is built with CONFIG_PVH=y, so
its ELF image carries a XEN_ELFNOTE_PHYS32_ENTRY note and QEMU's `-kernel` can start it at that
entry point (arch/x86/platform/pvh/head.S) with no decompressor: the same kernel code, booted
about twice as fast. Only KASLR is lost (the decompressor is what randomises), which changes
addresses, and addresses are the one thing the lab never compares.

bzImage layout (Documentation/arch/x86/boot.rst, arch/x86/boot/header.S): setup_sects at
0x1f1, "HdrS" at 0x202, payload_offset/payload_length at 0x248/0x24c, counted from the start
of the protected-mode code at (setup_sects + 1) * 512.
"""

from __future__ import annotations

import lzma
import struct
import zlib

from kcourse.errors import KcourseError

XEN_ELFNOTE_PHYS32_ENTRY = 18  # include/xen/interface/elfnote.h


class KernelImageError(KcourseError):
    """The kernel image is not a bzImage kcourse can unpack."""


def payload(bzimage: bytes) -> bytes:
    """The compressed kernel (the payload) inside a bzImage."""
    if len(bzimage) < 0x250 or bzimage[0x202:0x206] != b"HdrS":
        raise KernelImageError("not an x86 bzImage (no 'HdrS' boot header at 0x202)")
    setup_sects = bzimage[0x1F1] or 4  # 0 means 4 (boot.rst: setup_sects)
    offset, length = struct.unpack_from("<II", bzimage, 0x248)
    start = (setup_sects + 1) * 512 + offset
    if length == 0 or start + length > len(bzimage):
        raise KernelImageError("bzImage payload lies outside the file")
    return bzimage[start : start + length]


def decompress(data: bytes) -> bytes:
    """Decompress a payload; XZ (Debian's amd64 choice) and gzip are supported."""
    if data.startswith(b"\xfd7zXZ\x00"):
        # The kernel appends the uncompressed size after the stream: unused_data, ignored.
        return lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data)
    if data.startswith(b"\x1f\x8b"):
        return zlib.decompressobj(wbits=31).decompress(data)  # 31: gzip wrapper
    raise KernelImageError(f"unsupported kernel compression (magic {data[:4].hex()})")


def has_pvh_entry(elf: bytes) -> bool:
    """Whether an ELF64 kernel carries the PVH entry note QEMU needs for a direct boot."""
    if elf[:4] != b"\x7fELF" or elf[4] != 2:
        return False
    phoff, = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    for i in range(phnum):
        p_type, _, p_offset, _, _, p_filesz = struct.unpack_from(
            "<IIQQQQ", elf, phoff + i * phentsize
        )
        if p_type != 4:  # PT_NOTE
            continue
        pos, end = p_offset, p_offset + p_filesz
        while pos + 12 <= end:
            namesz, descsz, ntype = struct.unpack_from("<III", elf, pos)
            name = elf[pos + 12 : pos + 12 + namesz].rstrip(b"\0")
            if name == b"Xen" and ntype == XEN_ELFNOTE_PHYS32_ENTRY:
                return True
            pos += 12 + (namesz + 3) // 4 * 4 + (descsz + 3) // 4 * 4
    return False


def extract_vmlinux(bzimage: bytes) -> bytes:
    """The ELF kernel of a bzImage, checked to be bootable through PVH."""
    elf = decompress(payload(bzimage))
    if not has_pvh_entry(elf):
        raise KernelImageError("the kernel has no PVH entry note (built without CONFIG_PVH)")
    return elf
