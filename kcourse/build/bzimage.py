"""Read an x86 bzImage (what /boot/vmlinuz-<release> is): its boot header and its payload.

A bzImage is `arch/x86/boot/tools/build setup.bin vmlinux.bin` (arch/x86/boot/Makefile):
setup_sects+1 sectors of real-mode setup code, whose header the boot loader reads, then the
protected-mode part: the decompressor (arch/x86/boot/compressed/) with the compressed kernel
(`vmlinux` stripped to vmlinux.bin, then gzip/xz/lz4/...) inside it.

Offsets and rules are those of Documentation/x86/boot.rst (6.1; Documentation/arch/x86/boot.rst
in 6.12), "The real-mode kernel header". `kcourse bzimage FILE` prints the same facts.
"""

from __future__ import annotations

import os
import stat
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

from kcourse.build import payload as payload_mod
from kcourse.errors import KcourseError

HDRS = b"HdrS"            # 0x202: "HdrS" (0x53726448), boot protocol 2.00+
BOOT_FLAG = 0xAA55        # 0x1FE
LOADED_HIGH = 0x01        # loadflags bit 0: "the protected-mode code is loaded at 0x100000"
HEADER_END = 0x26C        # end of the 2.15 header (kernel_info_offset at 0x268)
SECTOR = 512


@dataclass(frozen=True)
class SetupHeader:
    """The fields of the real-mode kernel header that tell a boot loader what this is."""

    setup_sects_raw: int     # 0x1F1
    syssize: int             # 0x1F4 (16-byte paragraphs of protected-mode code)
    boot_flag: int           # 0x1FE
    header: bytes            # 0x202
    version: int             # 0x206 (major << 8) | minor
    kernel_version_ptr: int  # 0x20E: string at this value + 0x200
    kernel_version: str
    loadflags: int           # 0x211
    code32_start: int        # 0x214
    kernel_alignment: int    # 0x230 (2.05+)
    relocatable_kernel: int  # 0x234 (2.05+)
    xloadflags: int          # 0x236 (2.12+)
    cmdline_size: int        # 0x238 (2.06+)
    payload_offset: int      # 0x248 (2.08+): from the start of the protected-mode code
    payload_length: int      # 0x24C (2.08+)
    pref_address: int        # 0x258 (2.10+)
    init_size: int           # 0x260 (2.10+)

    @property
    def setup_sects(self) -> int:
        """boot.rst: "if the setup_sects field contains 0, the real value is 4"."""
        return self.setup_sects_raw or 4

    @property
    def protocol(self) -> str:
        return f"{self.version >> 8}.{self.version & 0xFF:02d}"

    @property
    def pm_offset(self) -> int:
        """boot.rst: "The 32-bit (non-real-mode) kernel starts at offset (setup_sects+1)*512"."""
        return (self.setup_sects + 1) * SECTOR

    @property
    def is_bzimage(self) -> bool:
        return bool(self.loadflags & LOADED_HIGH)


@dataclass(frozen=True)
class ElfFacts:
    """The ELF header of the decompressed kernel (vmlinux.bin: vmlinux without symbols)."""

    elf_class: int           # 64 or 32
    endian: str              # "little" / "big"
    e_type: int              # 2 = ET_EXEC
    e_machine: int           # 62 = EM_X86_64
    entry: int
    phnum: int
    shnum: int
    shoff: int
    shentsize: int
    load_segments: list[tuple[int, int, int]]  # (p_offset, p_vaddr, p_memsz) of PT_LOAD

    @property
    def file_size(self) -> int:
        """Where the ELF file ends (the section header table is last in vmlinux.bin)."""
        return self.shoff + self.shnum * self.shentsize

    def summary(self) -> str:
        kind = {1: "relocatable", 2: "executable", 3: "shared object"}.get(self.e_type, "?")
        mach = {62: "x86-64", 3: "Intel 80386"}.get(self.e_machine, f"machine {self.e_machine}")
        lsb = "LSB" if self.endian == "little" else "MSB"
        return (f"ELF {self.elf_class}-bit {lsb} {kind}, {mach}, entry {self.entry:#x}, "
                f"{self.phnum} program headers, {self.shnum} section headers")


def parse_elf_header(data: bytes) -> ElfFacts:
    """Parse an ELF header (and program headers, if present in `data`)."""
    if len(data) < 64 or data[:4] != b"\x7fELF":
        raise KcourseError("decompressed payload is not an ELF file")
    elf_class = {1: 32, 2: 64}.get(data[4])
    endian = {1: "little", 2: "big"}.get(data[5])
    if elf_class != 64 or endian is None:
        raise KcourseError("decompressed payload is not a 64-bit ELF file")
    e = "<" if endian == "little" else ">"
    (e_type, e_machine, _ver, entry, phoff, shoff, _flags, _ehsize, phentsize, phnum,
     shentsize, shnum, _shstrndx) = struct.unpack_from(e + "HHIQQQIHHHHHH", data, 16)
    loads = []
    for i in range(phnum):
        off = phoff + i * phentsize
        if off + 56 > len(data):
            break
        p_type, _pf, p_offset, p_vaddr, _pa, _filesz, p_memsz, _al = struct.unpack_from(
            e + "IIQQQQQQ", data, off)
        if p_type == 1:
            loads.append((p_offset, p_vaddr, p_memsz))
    return ElfFacts(elf_class, endian, e_type, e_machine, entry, phnum, shnum, shoff,
                    shentsize, loads)


@dataclass(frozen=True)
class BzImage:
    """A parsed bzImage: header, payload bytes and what they are."""

    name: str
    size: int
    header: SetupHeader
    payload: bytes
    efi_stub: bool           # starts with "MZ": also a PE/COFF EFI application

    @property
    def payload_file_offset(self) -> int:
        return self.header.pm_offset + self.header.payload_offset

    @property
    def compression(self) -> str:
        return payload_mod.identify(self.payload)

    @property
    def uncompressed_size(self) -> int:
        """The u32 the build appends to the compressed data (scripts/Makefile.lib: size_append)."""
        return struct.unpack_from("<I", self.payload, len(self.payload) - 4)[0]

    def decompress(self) -> payload_mod.Decompressed:
        return payload_mod.decompress(self.payload, self.compression)


def parse_header(data: bytes) -> SetupHeader:
    """Parse the real-mode kernel header; KcourseError if `data` is not a bzImage."""
    if len(data) < HEADER_END:
        raise KcourseError(f"not a bzImage: only {len(data)} bytes (the boot header ends at "
                           f"{HEADER_END:#x})")
    u8 = lambda off: data[off]                                   # noqa: E731
    u16 = lambda off: struct.unpack_from("<H", data, off)[0]     # noqa: E731
    u32 = lambda off: struct.unpack_from("<I", data, off)[0]     # noqa: E731
    if data[0x202:0x206] != HDRS:
        raise KcourseError("not an x86 Linux boot image: no 'HdrS' signature at 0x202")
    if u16(0x1FE) != BOOT_FLAG:
        raise KcourseError(f"not an x86 Linux boot image: boot_flag is {u16(0x1FE):#06x}, "
                           "not 0xaa55")
    version = u16(0x206)
    if version < 0x0208:
        raise KcourseError(f"boot protocol {version >> 8}.{version & 0xff:02d} is older than "
                           "2.08: no payload_offset/payload_length")
    ptr = u16(0x20E)
    kv = ""
    if ptr:
        start = ptr + 0x200              # boot.rst: a pointer "less 0x200"
        if start >= len(data):
            raise KcourseError(f"corrupt header: kernel_version pointer {ptr:#x} is past the end")
        kv = data[start:start + 256].split(b"\0", 1)[0].decode("ascii", "replace")
    return SetupHeader(
        setup_sects_raw=u8(0x1F1), syssize=u32(0x1F4), boot_flag=u16(0x1FE),
        header=data[0x202:0x206], version=version, kernel_version_ptr=ptr, kernel_version=kv,
        loadflags=u8(0x211), code32_start=u32(0x214), kernel_alignment=u32(0x230),
        relocatable_kernel=u8(0x234), xloadflags=u16(0x236), cmdline_size=u32(0x238),
        payload_offset=u32(0x248), payload_length=u32(0x24C),
        pref_address=struct.unpack_from("<Q", data, 0x258)[0], init_size=u32(0x260))


def _read_regular(path: Path) -> bytes:
    """A regular file's bytes; one-line KcourseError for a missing file, a directory, a FIFO
    (which would block the reader) or a device (which may never end)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as err:
        raise KcourseError(f"cannot read {path}: {err.strerror}") from None
    except (ValueError, TypeError):
        raise KcourseError(f"cannot read {path!r}: not a file name") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        why = "Is a directory" if stat.S_ISDIR(mode) else "not a regular file"
        raise KcourseError(f"cannot read {path}: {why}")
    with os.fdopen(fd, "rb") as handle:
        try:
            return handle.read()
        except OSError as err:
            raise KcourseError(f"cannot read {path}: {err.strerror}") from None


def read_bzimage(source: str | Path | bytes, name: str | None = None) -> BzImage:
    """Parse a bzImage from a path or from its bytes."""
    if isinstance(source, (bytes, bytearray)):
        data, name = bytes(source), name or "<bytes>"
    else:
        path = Path(source)
        name = name or path.name
        data = _read_regular(path)
    header = parse_header(data)
    if not header.is_bzimage:
        raise KcourseError("a zImage (loadflags bit 0 clear), not a bzImage")
    start = header.pm_offset + header.payload_offset
    end = start + header.payload_length
    if header.payload_length < 8 or end > len(data):
        raise KcourseError(f"corrupt bzImage: payload {start:#x}..{end:#x} is outside the "
                           f"{len(data)}-byte file")
    return BzImage(name, len(data), header, data[start:end], data[:2] == b"MZ")


def describe(image: BzImage, decompress: bool = True) -> list[str]:
    """The lines `kcourse bzimage` prints."""
    h = image.header
    lines = [f"{image.name}: x86 Linux boot image (bzImage), {image.size} bytes"
             + (", with an EFI stub (starts with MZ)" if image.efi_stub else ""),
             f"  boot_flag       {h.boot_flag:#06x} at 0x1fe",
             f"  header          {h.header.decode('ascii')} at 0x202",
             f"  protocol        {h.protocol} (version {h.version:#06x})",
             f"  setup_sects     {h.setup_sects_raw}"
             + (" (0 means 4)" if not h.setup_sects_raw else "")
             + f": protected-mode code at ({h.setup_sects}+1)*512 = {h.pm_offset:#x}",
             f"  kernel_version  {h.kernel_version_ptr:#x} + 0x200 -> \"{h.kernel_version}\"",
             f"  loadflags       {h.loadflags:#04x} (LOADED_HIGH: loaded at 0x100000)",
             f"  payload         offset {h.payload_offset:#x} (file offset "
             f"{image.payload_file_offset:#x}), length {h.payload_length:#x} "
             f"({h.payload_length} bytes)",
             f"  compression     {image.compression} (first bytes {image.payload[:6].hex()})",
             f"  size trailer    {image.uncompressed_size} bytes once decompressed"]
    if not decompress:
        return lines
    try:
        result = image.decompress()
    except KcourseError as err:
        return [*lines, f"  vmlinux         not decompressed: {err}"]
    facts = parse_elf_header(result.data)
    lines.append(f"  vmlinux         {facts.summary()}")
    lines.append(f"                  {len(result.data)} bytes: ELF file {facts.file_size}"
                 f" + relocations {len(result.data) - facts.file_size}")
    return lines


def main(argv: list[str]) -> int:
    """kcourse bzimage [--no-decompress] FILE..."""
    decompress = True
    files = []
    for arg in argv:
        if arg in ("-n", "--no-decompress"):
            decompress = False
        elif arg in ("-h", "--help"):
            print("usage: kcourse bzimage [--no-decompress] FILE...")
            return 0
        elif arg.startswith("-"):
            raise KcourseError(f"unknown option {arg} (usage: kcourse bzimage "
                               "[--no-decompress] FILE...)")
        else:
            files.append(arg)
    if not files:
        raise KcourseError("usage: kcourse bzimage [--no-decompress] FILE...")
    for file in files:
        image = read_bzimage(file)
        sys.stdout.write("\n".join(describe(image, decompress)) + "\n")
    return 0
