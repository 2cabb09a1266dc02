"""kernel/module/main.c (6.1) elf_validity_check: the kernel's own sanity checks of an image.

Each failure prints the kernel's pr_err text and means -ENOEXEC. Checked on the raw bytes,
before anything else reads the image, in the kernel's order.
"""

from __future__ import annotations

from kcourse.elf.elf64 import EHDR, SHDR, SHT_NOBITS, SHT_NULL, SHT_SYMTAB

ET_REL, EM_X86_64 = 1, 62
SHF_ALLOC = 0x2


def elf_validity_check(image: bytes) -> str | None:
    """None if the kernel accepts the image, else the message it prints (-ENOEXEC)."""
    length = len(image)
    if length < EHDR.size:
        return f"Invalid ELF header len {length}"
    (ident, e_type, e_machine, _v, _entry, _phoff, shoff, _flags, _ehsize, _phentsize,
     _phnum, shentsize, shnum, shstrndx) = EHDR.unpack_from(image)
    if ident[:4] != b"\x7fELF":
        return "Invalid ELF header magic: != \x7fELF"
    if e_type != ET_REL:
        return f"Invalid ELF header type: {e_type} != {ET_REL}"
    # elf_check_arch (x86-64): EM_X86_64; the class/data bytes are checked by it too
    if e_machine != EM_X86_64 or ident[4] != 2 or ident[5] != 1:
        return f"Invalid architecture in ELF header: {e_machine}"
    if shentsize != SHDR.size:
        return "Invalid ELF section header size"
    if shoff >= length or shnum * SHDR.size > length - shoff:
        return "Invalid ELF section header overflow"
    if shstrndx == 0 or shstrndx >= shnum:
        return (f"Invalid ELF section name index: {shstrndx} || e_shstrndx ({shstrndx}) "
                f">= e_shnum ({shnum})")
    rows = [SHDR.unpack_from(image, shoff + i * SHDR.size) for i in range(shnum)]
    _n, strtype, _f, _a, stroff, strsize, *_ = rows[shstrndx]
    if stroff + strsize > length:
        return f"Invalid ELF section hdr(type {strtype})"
    if strsize == 0:
        return "empty section name table"
    if image[stroff + strsize - 1] != 0:
        return "ELF Spec violation: section name table isn't null terminated"
    t0, s0, a0 = rows[0][1], rows[0][5], rows[0][3]
    if t0 != SHT_NULL or s0 != 0 or a0 != 0:
        return (f"ELF Spec violation: section 0 type({t0})!=SH_NULL or non-zero len or addr")
    for i in range(1, shnum):
        name, typ, flags, _addr, off, size, link, _info, _al, _es = rows[i]
        if typ in (SHT_NULL, SHT_NOBITS):
            continue
        if typ == SHT_SYMTAB and (link == 0 or link >= shnum):
            return (f"Invalid ELF sh_link!=SHN_UNDEF({link}) or (sh_link({link}) >= "
                    f"hdr->e_shnum({shnum})")
        if off + size > length:
            return f"Invalid ELF section in module (section {i} type {typ})"
        if flags & SHF_ALLOC and name >= strsize:
            return f"Invalid ELF section name in module (section {i} type {typ})"
    return None
