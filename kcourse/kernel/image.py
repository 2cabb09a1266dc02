"""What the loader reads from a module's ELF image (the kernel's `struct load_info`).

The kernel does not use a library to read a module: load_module() walks the image's section
headers and symbol table itself. ModuleImage is that view, parsed once from the bytes with
kcourse.elf.elf64 (a lean struct parser) so a simulated kernel can hold thousands of them:
sections with their flags, the symbol table as plain tuples, .modinfo, __versions CRCs,
exports (from the __ksymtab_<sym>/__crc_<sym>/__kstrtabns_<sym> labels that 6.1's
include/linux/export.h emits) and module parameters (struct kernel_param in __param,
followed through its relocations). A ModuleImage is immutable and can be pickled, which is the
"pre-parsed metadata" path the benchmark uses.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

from kcourse.elf import elf64
from kcourse.elf.signature import MAGIC as SIG_MAGIC
from kcourse.elf.signature import find_trailer, read_signature

SYM = struct.Struct("<IBBHQQ")
RELA = struct.Struct("<QQq")
MODVERSION = struct.Struct("<Q56s")  # include/linux/module.h struct modversion_info
KERNEL_PARAM = struct.Struct("<QQQHbBxxxxQ")  # include/linux/moduleparam.h struct kernel_param
SHN_UNDEF, SHN_LORESERVE, SHN_ABS, SHN_COMMON = 0, 0xFF00, 0xFFF1, 0xFFF2
STB_LOCAL, STB_GLOBAL, STB_WEAK = 0, 1, 2
STT_OBJECT, STT_FUNC, STT_SECTION = 1, 2, 3
PKEY_ID_PKCS7 = 2
# Keys whose signatures the Debian kernel's builtin keyring verifies (certs/ + Debian's CA).
TRUSTED_SIGNERS = frozenset({"Debian Secure Boot CA", "Debian Secure Boot Signer 2022 - linux"})


@dataclass(frozen=True)
class Sec:
    index: int
    name: str
    type: int
    flags: int
    size: int
    align: int


@dataclass(frozen=True)
class Export:
    name: str
    gpl_only: bool
    namespace: str | None
    crc: int | None


@dataclass(frozen=True)
class ParamSpec:
    """One module_param(): name, type as modinfo spells it, perm, default value text."""

    name: str
    type: str  # "int", "charp", "bool", ... or "array of int"
    perm: int
    default: tuple[str, ...]  # the values at load (arrays: one per element used)
    max_count: int = 1  # arrays: kparam_array.max
    maxlen: int = 0  # module_param_string: kparam_string.maxlen


@dataclass(frozen=True)
class ModuleImage:
    source: str  # the path as given (for messages of the user-space side)
    name: str  # info->name: modinfo name=, else struct module's name
    mod_name: str  # mod->name from .gnu.linkonce.this_module
    e_machine: int
    sections: tuple[Sec, ...]
    symbols: tuple[tuple[str, int, int, int], ...]  # (name, value, st_info, st_shndx)
    symtab_index: int
    strtab_index: int
    this_module_index: int
    modinfo: tuple[tuple[str, str], ...]
    versions: tuple[tuple[str, int], ...]
    exports: tuple[Export, ...]
    has_init: bool
    has_exit: bool
    params: tuple[ParamSpec, ...]
    elf_len: int
    signer: str | None = None  # PKCS#7 signer of an appended signature
    sig_status: str = "unsigned"  # "unsigned" | "ok" | "nokey" | "badmsg"
    notes: tuple[tuple[str, bytes], ...] = field(default=())

    # ------------------------------------------------------------------ modinfo
    def get_modinfo(self, tag: str) -> str | None:
        """main.c get_modinfo: the first `tag=` string."""
        return next((v for k, v in self.modinfo if k == tag), None)

    def all_modinfo(self, tag: str) -> list[str]:
        return [v for k, v in self.modinfo if k == tag]

    def find_sec(self, name: str) -> int:
        """main.c find_sec: index of an SHF_ALLOC section by name, 0 if none."""
        for s in self.sections:
            if s.flags & elf64.SHF_ALLOC and s.name == name:
                return s.index
        return 0

    @property
    def depends(self) -> list[str]:
        value = self.get_modinfo("depends") or ""
        return [d for d in value.split(",") if d]


def _cstr(data: bytes, off: int) -> str:
    end = data.find(b"\0", off)
    return data[off:end if end >= 0 else len(data)].decode("utf-8", "surrogateescape")


def signature_status(raw: bytes) -> tuple[int, str, str | None]:
    """kernel/module/signing.c module_sig_check + mod_verify_sig, reduced to what we model.

    Returns (length of the image without the signature, status, signer). The simulator cannot
    verify RSA, so a well-formed PKCS#7 signature from a signer in TRUSTED_SIGNERS counts as
    verified ("ok"), another signer as -ENOKEY ("nokey": not fatal, taints E) and a malformed
    trailer as -EBADMSG ("badmsg": fatal even when signatures are not enforced).
    """
    if not raw.endswith(SIG_MAGIC):
        return len(raw), "unsigned", None
    trailer = find_trailer(raw)
    if trailer is None or trailer.id_type != PKEY_ID_PKCS7:
        return len(raw), "badmsg", None
    sig = read_signature(raw, fast=True)
    if sig is None:
        return trailer.elf_size, "badmsg", None
    status = "ok" if sig.signer in TRUSTED_SIGNERS else "nokey"
    return trailer.elf_size, status, sig.signer


def parse_image(source: str, raw: bytes, elf_len: int, sig_status: str = "unsigned",
                signer: str | None = None) -> ModuleImage:
    """Build the loader's view of an ELF image that passed elf_validity_check.

    Raises kcourse.errors.KoFormatError if the image is inconsistent in a way the kernel
    would also refuse (the loader turns that into -ENOEXEC).
    """
    elf = raw[:elf_len]
    header = elf64.parse_header(source, elf)
    secs = elf64.parse_sections(source, elf, header)
    sections = tuple(Sec(s.index, s.name, s.type, s.flags, s.size, s.align) for s in secs)
    by_name: dict[str, elf64.Section] = {}
    for s in secs:
        by_name.setdefault(s.name, s)

    def data_of(sec: elf64.Section | None) -> bytes:
        return elf64.section_bytes(elf, sec) if sec is not None else b""

    symtab = next((s for s in secs[1:] if s.type == elf64.SHT_SYMTAB), None)
    symbols: tuple = ()
    strtab_index = 0
    if symtab is not None:
        strtab_index = symtab.link
        strtab = data_of(secs[symtab.link])
        raw_syms = data_of(symtab)
        n = len(raw_syms) // SYM.size
        rows = struct.iter_unpack("<IBBHQQ", raw_syms[: n * SYM.size])
        symbols = tuple((_cstr(strtab, name) if name else "", value, info, shndx)
                        for name, info, _other, shndx, value, _size in rows)

    modinfo = tuple(_modinfo_pairs(data_of(by_name.get(".modinfo"))))
    versions = tuple(_versions(data_of(by_name.get("__versions"))))
    this = by_name.get(".gnu.linkonce.this_module")
    mod_name = ""
    if this is not None and this.type != elf64.SHT_NOBITS:
        mod_name = _cstr(data_of(this)[24:80], 0)  # struct module: state, list, then name[56]
    name = next((v for k, v in modinfo if k == "name"), None) or mod_name
    relocs = _RelocIndex(elf, secs, symbols)
    has_init = has_exit = False
    if this is not None:
        targets = {sym for _off, (sym, _sec, _add) in relocs.of(this.index).items()}
        has_init = "init_module" in targets
        has_exit = "cleanup_module" in targets
    exports = tuple(_exports(symbols, secs, data_of))
    params = tuple(_params(by_name, secs, data_of, relocs, modinfo))
    notes = tuple((s.name, data_of(s)) for s in secs if s.type == 7 and s.flags & 2)  # SHT_NOTE
    return ModuleImage(
        source=str(source), name=name, mod_name=mod_name or name,
        e_machine=header.e_machine, sections=sections, symbols=symbols,
        symtab_index=symtab.index if symtab is not None else 0, strtab_index=strtab_index,
        this_module_index=this.index if this is not None else 0, modinfo=modinfo,
        versions=versions, exports=exports, has_init=has_init, has_exit=has_exit,
        params=params, elf_len=elf_len, signer=signer, sig_status=sig_status, notes=notes,
    )


def _modinfo_pairs(data: bytes):
    for item in data.split(b"\0"):
        if item:
            key, _, value = item.partition(b"=")
            yield key.decode("utf-8", "surrogateescape"), value.decode("utf-8", "surrogateescape")


def _versions(data: bytes):
    n = len(data) // MODVERSION.size
    for crc, name in struct.iter_unpack("<Q56s", data[: n * MODVERSION.size]):
        yield _cstr(name, 0), crc & 0xFFFFFFFF


def _exports(symbols, secs, data_of):
    """EXPORT_SYMBOL*: 6.1 export.h labels each entry __ksymtab_<sym> in __ksymtab[_gpl]."""
    labels: dict[str, tuple[str, int, int]] = {}
    for name, value, _info, shndx in symbols:
        if 0 < shndx < len(secs):
            labels[name] = (secs[shndx].name, value, shndx)
    out = []
    for name, (secname, _value, _shndx) in labels.items():
        if not name.startswith("__ksymtab_") or secname not in ("__ksymtab", "__ksymtab_gpl"):
            continue
        sym = name[len("__ksymtab_"):]
        crc = None
        if "__crc_" + sym in labels:
            csec, cval, cidx = labels["__crc_" + sym]
            blob = data_of(secs[cidx])
            if cval + 4 <= len(blob):
                crc = struct.unpack_from("<I", blob, cval)[0]
        ns = None
        if "__kstrtabns_" + sym in labels:
            _nsec, nval, nidx = labels["__kstrtabns_" + sym]
            ns = _cstr(data_of(secs[nidx]), nval) or None
        out.append(Export(sym, secname == "__ksymtab_gpl", ns, crc))
    out.sort(key=lambda e: (e.gpl_only, e.name))
    return out


class _RelocIndex:
    """RELA entries of one target section: offset -> (symbol name, symbol section, addend)."""

    def __init__(self, elf: bytes, secs, symbols):
        self._elf, self._secs, self._symbols = elf, secs, symbols
        self._cache: dict[int, dict[int, tuple[str, int, int]]] = {}

    def of(self, target: int) -> dict[int, tuple[str, int, int]]:
        if target in self._cache:
            return self._cache[target]
        out: dict[int, tuple[str, int, int]] = {}
        for sec in self._secs:
            if sec.type != elf64.SHT_RELA or sec.info != target:
                continue
            data = elf64.section_bytes(self._elf, sec)
            n = len(data) // RELA.size
            for off, info, addend in struct.iter_unpack("<QQq", data[: n * RELA.size]):
                idx = info >> 32
                if idx < len(self._symbols):
                    name, value, sinfo, shndx = self._symbols[idx]
                    if sinfo & 0xF == STT_SECTION or shndx not in (SHN_UNDEF,):
                        out[off] = (name, shndx, addend + (value if shndx else 0))
                    else:
                        out[off] = (name, 0, addend)
        self._cache[target] = out
        return out

    def pointer(self, sec_index: int, offset: int) -> tuple[str, int, int] | None:
        return self.of(sec_index).get(offset)


_PARAM_SIZES = {"byte": ("<B", 1), "short": ("<h", 2), "ushort": ("<H", 2), "int": ("<i", 4),
                "uint": ("<I", 4), "long": ("<q", 8), "ulong": ("<Q", 8), "ullong": ("<Q", 8),
                "hexint": ("<I", 4), "bool": ("<?", 1), "invbool": ("<?", 1), "bint": ("<i", 4)}


def _params(by_name, secs, data_of, relocs: _RelocIndex, modinfo):
    """struct kernel_param entries of __param, with their current (default) values."""
    sec = by_name.get("__param")
    if sec is None:
        return []
    types = {}
    for key, value in modinfo:
        if key == "parmtype":
            pname, _, ptype = value.partition(":")
            types[pname] = ptype
    data = data_of(sec)
    out = []
    for i in range(len(data) // KERNEL_PARAM.size):
        base = i * KERNEL_PARAM.size
        _n, _m, _o, perm, _level, _flags, _arg = KERNEL_PARAM.unpack_from(data, base)
        name_ptr = relocs.pointer(sec.index, base)
        ops_ptr = relocs.pointer(sec.index, base + 16)
        arg_ptr = relocs.pointer(sec.index, base + 32)
        if name_ptr is None:
            continue
        pname = _cstr(data_of(secs[name_ptr[1]]), name_ptr[2]) if name_ptr[1] else ""
        ops = ops_ptr[0] if ops_ptr else ""
        ptype = types.get(pname) or (ops[len("param_ops_"):] if ops.startswith("param_ops_")
                                     else "unknown")
        default: tuple[str, ...] = ()
        max_count, maxlen = 1, 0
        try:
            if ops == "param_array_ops" and arg_ptr and arg_ptr[1]:
                default, max_count = _array_default(secs, data_of, relocs, arg_ptr, ptype)
            elif ops == "param_ops_string" and arg_ptr and arg_ptr[1]:
                blob = data_of(secs[arg_ptr[1]])
                maxlen = struct.unpack_from("<I", blob, arg_ptr[2])[0]
                sptr = relocs.pointer(arg_ptr[1], arg_ptr[2] + 8)
                default = (_read_value(secs, data_of, relocs, sptr, "string"),)
            elif arg_ptr and arg_ptr[1]:
                default = (_read_value(secs, data_of, relocs, arg_ptr, ptype),)
        except (struct.error, IndexError):
            default = ()
        out.append(ParamSpec(pname, ptype, perm, default, max_count, maxlen))
    return out


def _read_value(secs, data_of, relocs, ptr, ptype: str) -> str:
    """The initial value of a parameter variable, formatted like param_get_<type>."""
    from kcourse.kernel.params import format_value

    _sym, shndx, off = ptr
    sec = secs[shndx]
    blob = data_of(sec) if sec.type != elf64.SHT_NOBITS else bytes(sec.size)
    if ptype in ("charp",):
        target = relocs.pointer(shndx, off)
        if target is None or not target[1]:
            return "(null)"
        return _cstr(data_of(secs[target[1]]), target[2])
    if ptype == "string":
        return _cstr(blob, off)
    fmt, _size = _PARAM_SIZES.get(ptype, ("<i", 4))
    value = struct.unpack_from(fmt, blob, off)[0]
    return format_value(ptype, value)


def _array_default(secs, data_of, relocs, arr_ptr, ptype: str):
    _sym, shndx, off = arr_ptr
    blob = data_of(secs[shndx])
    max_count, elemsize = struct.unpack_from("<II", blob, off)
    elem_type = ptype[len("array of "):] if ptype.startswith("array of ") else "int"
    num_ptr = relocs.pointer(shndx, off + 8)
    elem_ptr = relocs.pointer(shndx, off + 24)
    count = max_count
    if num_ptr is not None and num_ptr[1]:
        nsec = secs[num_ptr[1]]
        nblob = data_of(nsec) if nsec.type != elf64.SHT_NOBITS else bytes(nsec.size)
        count = struct.unpack_from("<I", nblob, num_ptr[2])[0]
    values = []
    if elem_ptr is not None and elem_ptr[1]:
        for i in range(count):
            values.append(_read_value(secs, data_of, relocs,
                                      (elem_ptr[0], elem_ptr[1], elem_ptr[2] + i * elemsize),
                                      elem_type))
    return tuple(values), max_count


def read_source(source) -> tuple[str, bytes]:
    """(path text, ELF image bytes) for a path, a KoFile, or raw bytes.

    Compressed files are decompressed here, as kmod 30 does in user space before calling
    init_module(2). Anything else goes to the kernel as is: a file that is not ELF at all is
    the kernel's to refuse (elf_validity_check). Raises KoFormatError for unreadable files.
    """
    from kcourse.elf import image as elfimage

    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
        name = "<memory>"
    elif getattr(source, "raw", None) is not None:
        return str(getattr(source, "path", "<memory>")), source.raw
    else:
        name = str(source)
        data = elfimage.read_file(Path(source))
    if elfimage.compression_of(data[:8]):
        data, _kind = elfimage.decompress(name, data)
    return name, data
