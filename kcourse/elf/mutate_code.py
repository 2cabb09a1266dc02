"""Hostile machine code in a real .ko: its executable sections mutated, its ELF left valid.

For the promise that module code cannot crash, hang or escape the simulator
(tests/test_fuzz_code.py, benchmarks/fuzz_code.py). Only the bytes of SHF_EXECINSTR sections
(.text, .init.text, .exit.text, ...) change, so the loader accepts the file and the CPU runs
the result. Most mutations aim inside a function the kernel will call (a FUNC symbol: init,
exit, file operations) and avoid the bytes the loader's relocations overwrite, so what is
planted is what runs:
- flip / bitflip: random bytes or bits;
- splice: one instruction sequence from HOSTILE (privileged instructions, traps, wild jumps,
  endless loops, stack exhaustion, huge string moves);
- early_return: the function returns at once, with 0 or a negative errno;
- nops / zeros: a run of the function blanked (calls and their argument set-up vanish);
- copy: bytes copied from elsewhere in the code (instructions out of their context);
- reloc_site: a nonzero byte under a relocation, which the loader must refuse.

Every mutation is a pure function of (bytes, random.Random), so a seed reproduces a case.
"""

from __future__ import annotations

import random
import struct

from kcourse.elf.elf64 import EHDR, RELA, SHDR, SHF_EXECINSTR, SHT_NOBITS, SHT_RELA, SHT_SYMTAB

STT_FUNC = 2
# Addresses a wild pointer or jump may take: NULL and near it, user space, non-canonical,
# unmapped direct map, the module area, the kernel's text (kapi slots), thunks, the stack.
WILD = (0, 8, 0x10, 0xFFF, 0x1000, 0x7F3C1A2C3000, 0x0000_7FFF_FFFF_F000, 1 << 63,
        0x8000_0000_0000_0000 - 8, 0xDEAD_BEEF_DEAD_BEEF, 0xFFFF_8881_0000_0000,
        0xFFFF_FFFF_C000_0000, 0xFFFF_FFFF_C000_1000, 0xFFFF_FFFF_8100_0000,
        0xFFFF_FFFF_8100_0008, 0xFFFF_FFFF_81F0_0000, 0xFFFF_FFFF_81FF_F800,
        0xFFFF_C900_4000_0000, 0xFFFF_C900_4000_4000, 0xFFFF_FFFF_FFFF_FFF8, 2**64 - 1)


def _imm64(rng: random.Random) -> bytes:
    value = rng.choice(WILD) if rng.random() < 0.8 else rng.getrandbits(64)
    return struct.pack("<Q", value)


def _imm32(rng: random.Random) -> bytes:
    return struct.pack("<I", rng.choice([0, 0x10, 0x1B, 0xC0000080, 0xC0000101, 0xC0000082,
                                         0x12345, rng.getrandbits(32)]))


# name -> bytes, or a function of rng giving bytes (x86-64 encodings, Intel SDM vol. 2)
HOSTILE = {
    "hlt": lambda r: b"\xf4",
    "cli_hlt": lambda r: b"\xfa\xf4",
    "sti_hlt": lambda r: b"\xfb\xf4",
    "int3": lambda r: b"\xcc",
    "int1": lambda r: b"\xf1",
    "int_n": lambda r: bytes([0xCD, r.choice([0, 1, 2, 3, 4, 6, 8, 13, 14, 0x20, 0x80,
                                              0xEC, 0xF0, 0xFF, r.randrange(256)])]),
    "into": lambda r: b"\xce",
    "ud2": lambda r: b"\x0f\x0b",
    "ud1": lambda r: b"\x0f\xb9\xc0",
    "syscall": lambda r: b"\x0f\x05",
    "sysenter": lambda r: b"\x0f\x34",
    "sysret": lambda r: b"\x48\x0f\x07",
    "iretq": lambda r: b"\x48\xcf",
    "far_ret": lambda r: b"\xcb",
    "rdmsr": lambda r: b"\xb9" + _imm32(r) + b"\x0f\x32",
    "wrmsr": lambda r: b"\xb9" + _imm32(r) + b"\x0f\x30",
    "in": lambda r: bytes([0xE4, r.randrange(256)]),
    "out": lambda r: bytes([0xE6, r.randrange(256)]),
    "out_dx": lambda r: b"\x66\xba\x64\x00\xb0\xfe\xee",  # outb 0xfe, 0x64: a reset
    "mov_cr": lambda r: bytes([0x0F, 0x22, r.choice([0xC0, 0xD8, 0xE0, 0xD0])]),
    "read_cr": lambda r: bytes([0x0F, 0x20, r.choice([0xC0, 0xD0, 0xD8, 0xE0])]),
    "mov_dr": lambda r: b"\x0f\x23\xf8",
    "lgdt": lambda r: b"\x0f\x01\x17",
    "lidt": lambda r: b"\x0f\x01\x1f",
    "ltr_lldt": lambda r: r.choice([b"\x0f\x00\xd8", b"\x0f\x00\xd0"]),
    "swapgs": lambda r: b"\x0f\x01\xf8",
    "wbinvd_invlpg": lambda r: r.choice([b"\x0f\x09", b"\x0f\x01\x38", b"\x0f\x08"]),
    "clts": lambda r: b"\x0f\x06",
    "vm_monitor": lambda r: r.choice([b"\x0f\x01\xc1", b"\x0f\x01\xc8", b"\x0f\x01\xc9",
                                      b"\x0f\x01\xcb", b"\x0f\x01\xca"]),
    "mov_seg": lambda r: b"\xb8" + struct.pack("<I", r.choice([0, 0x18, 0x2B, 0x33, 0xFFFF]))
    + bytes([0x8E, r.choice([0xD8, 0xC0, 0xD0, 0xE0, 0xE8])]),
    "simd": lambda r: r.choice([b"\x0f\x28\xc1", b"\xc5\xf8\x28\xc1", b"\x0f\xae\x20",
                                b"\xd9\xe8", b"\x0f\x01\xd0", b"\x66\x0f\xef\xc0"]),
    "jmp_wild": lambda r: b"\x48\xb8" + _imm64(r) + b"\xff\xe0",
    "call_wild": lambda r: b"\x48\xb8" + _imm64(r) + b"\xff\xd0",
    "ret_wild": lambda r: b"\x48\xb8" + _imm64(r) + b"\x50\xc3",
    "load_wild": lambda r: b"\x48\xb8" + _imm64(r) + b"\x48\x8b\x00",
    "store_wild": lambda r: b"\x48\xb8" + _imm64(r) + b"\x48\x89\x00",
    "call_self": lambda r: b"\xe8\xfb\xff\xff\xff",
    "push_loop": lambda r: b"\x50\xeb\xfd",
    "loop": lambda r: b"\xeb\xfe",
    "pause_loop": lambda r: b"\xf3\x90\xeb\xfc",
    "rsp_wild": lambda r: b"\x48\xbc" + _imm64(r) + b"\x50",
    "sub_rsp": lambda r: b"\x48\x81\xec" + struct.pack("<I", r.choice([0x4000, 0x10000,
                                                                      0x7FFFFFFF])) + b"\x50",
    "rep_movs": lambda r: b"\x48\xc7\xc1\xff\xff\xff\x7f\x48\x89\xe6\x48\x89\xe7\xf3\xa4",
    "rep_stos": lambda r: b"\x48\xc7\xc1" + struct.pack("<I", r.choice([0x7FFFFFFF, 1 << 20]))
    + b"\x48\x89\xe7\xf3\xaa",
    "div0": lambda r: b"\x31\xc9\xf7\xf1",
    "enter_big": lambda r: b"\xc8\xff\xff\x1f",
    "args_wild": lambda r: bytes([0x48, r.choice([0xBE, 0xBF])]) + _imm64(r),  # movabs rsi|rdi
}
EARLY_RETURNS = (b"\x31\xc0\xc3", b"\xb8\xf4\xff\xff\xff\xc3", b"\xb8\xea\xff\xff\xff\xc3",
                 b"\xb8\x00\x00\x00\x80\xc3", b"\x48\xc7\xc0\xfb\xff\xff\xff\xc3")


class CodeImage:
    """Where a .ko's code is in the file: executable sections, their functions, and the
    bytes relocations will patch (so planted bytes can avoid them)."""

    def __init__(self, data: bytes):
        shoff = EHDR.unpack_from(data)[6]
        shnum = struct.unpack_from("<H", data, 0x3C)[0]
        rows = [SHDR.unpack_from(data, shoff + i * SHDR.size) for i in range(shnum)]
        self.sections = {i: (r[4], r[5]) for i, r in enumerate(rows)
                         if r[2] & SHF_EXECINSTR and r[1] != SHT_NOBITS and r[5]}
        self.patched: dict[int, set[int]] = {i: set() for i in self.sections}
        self.functions: list[tuple[int, int, int]] = []  # (section, offset, size)
        self.named: dict[str, tuple[int, int, int]] = {}
        for r in rows:
            if r[1] == SHT_RELA and r[7] in self.sections:
                for off, info, _add in struct.iter_unpack(RELA.format,
                                                          data[r[4]:r[4] + r[5]]):
                    width = 8 if info & 0xFFFFFFFF in (1, 24) else 4  # R_X86_64_64, PC64
                    self.patched[r[7]].update(range(off, off + width))
            if r[1] == SHT_SYMTAB:
                names = rows[r[6]]  # sh_link: the symbol names
                for name, info, _o, shndx, value, size in struct.iter_unpack(
                        "<IBBHQQ", data[r[4]:r[4] + r[5]]):
                    if info & 0xF == STT_FUNC and shndx in self.sections and size:
                        self.functions.append((shndx, value, size))
                        end = data.index(b"\0", names[4] + name)
                        self.named[data[names[4] + name:end].decode()] = (shndx, value, size)

    def spot(self, rng: random.Random, length: int) -> tuple[int, int] | None:
        """(section, offset) for `length` bytes, in a function when there is one, clear of
        relocated bytes when a few tries find such a place."""
        if not self.sections:
            return None
        best = None
        for _ in range(8):
            if self.functions and rng.random() < 0.85:
                sec, start, size = rng.choice(self.functions)
                offset = start + rng.choice([0, 5, rng.randrange(size)])
            else:
                sec = rng.choice(sorted(self.sections))
                offset = rng.randrange(self.sections[sec][1])
            offset = min(offset, max(self.sections[sec][1] - length, 0))
            best = best or (sec, offset)
            if not self.patched[sec] & set(range(offset, offset + length)):
                return sec, offset
        return best

    def put(self, out: bytearray, sec: int, offset: int, code: bytes) -> None:
        """Write code at offset, except over relocated bytes: the loader refuses a module
        whose relocation target is not zero (arch/x86/kernel/module.c __apply_relocate_add:
        "Invalid relocation target, existing value is nonzero"), and reloc_site tests that."""
        base, size = self.sections[sec]
        patched = self.patched[sec]
        for i, byte in enumerate(code[:max(size - offset, 0)]):
            if offset + i not in patched:
                out[base + offset + i] = byte


def flip(data, image, rng):
    out = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        sec, off = image.spot(rng, 1)
        image.put(out, sec, off, bytes([rng.randrange(256)]))
    return out


def bitflip(data, image, rng):
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        sec, off = image.spot(rng, 1)
        base = image.sections[sec][0]
        image.put(out, sec, off, bytes([out[base + off] ^ 1 << rng.randrange(8)]))
    return out


def reloc_site(data, image, rng):
    """A nonzero byte where a relocation will write: the loader must refuse the module."""
    out = bytearray(data)
    sites = [(sec, off) for sec in sorted(image.patched) for off in sorted(image.patched[sec])]
    if sites:
        sec, off = rng.choice(sites)
        out[image.sections[sec][0] + off] = rng.randrange(1, 256)
    return out


def splice(data, image, rng, name: str | None = None):
    out = bytearray(data)
    name = name or rng.choice(sorted(HOSTILE))
    code = HOSTILE[name](rng)
    sec, off = image.spot(rng, len(code))
    image.put(out, sec, off, code)
    return out


def early_return(data, image, rng):
    out = bytearray(data)
    if image.functions:
        sec, start, size = rng.choice(image.functions)
        image.put(out, sec, start + rng.choice([0, 0, 5]), rng.choice(EARLY_RETURNS))
    return out


def blank(data, image, rng, fill: int):
    out = bytearray(data)
    length = rng.choice([2, 5, 8, 16, 32])
    sec, off = image.spot(rng, length)
    image.put(out, sec, off, bytes([fill]) * length)
    return out


def copy(data, image, rng):
    out = bytearray(data)
    length = rng.randint(2, 24)
    src_sec, src = image.spot(rng, length)
    base, size = image.sections[src_sec]
    sec, off = image.spot(rng, length)
    image.put(out, sec, off, bytes(data[base + src:base + min(src + length, size)]))
    return out


MUTATIONS = {
    "flip": flip, "bitflip": bitflip, "splice": splice, "early_return": early_return,
    "nops": lambda d, i, r: blank(d, i, r, 0x90), "zeros": lambda d, i, r: blank(d, i, r, 0),
    "copy": copy, "reloc_site": reloc_site,
}
# How often each is drawn: splices carry the hostile instructions, so they come most often.
WEIGHTS = {"flip": 3, "bitflip": 2, "splice": 8, "early_return": 1, "nops": 2, "zeros": 1,
           "copy": 2, "reloc_site": 0.2}
KINDS = sorted(MUTATIONS)


def plant(data: bytes, function: str, code: bytes) -> bytes:
    """`code` in place of the first instructions of `function` (a FUNC symbol) that no
    relocation touches, padded with nops to the next instruction, so that it runs as soon
    as the function is called and the function goes on after it (capstone finds where its
    instructions start)."""
    import capstone

    image = CodeImage(data)
    sec, start, size = image.named[function]
    base = image.sections[sec][0]
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    starts = [start + a for a, *_ in md.disasm_lite(data[base + start:base + start + size], 0)]
    bounds = starts + [start + size]
    for offset in starts:
        end = next((b for b in bounds if b >= offset + len(code)), None)
        if end is None:
            break
        if not image.patched[sec] & set(range(offset, end)):
            out = bytearray(data)
            image.put(out, sec, offset, code + b"\x90" * (end - offset - len(code)))
            return bytes(out)
    raise ValueError(f"no room for {len(code)} bytes in {function}")


def mutate(data: bytes, rng: random.Random, kind: str | None = None) -> tuple[str, bytes]:
    """(mutation name, mutated bytes): one mutation of the code, sometimes two stacked. A
    splice is named after what it planted (`splice:wrmsr`). A file without code comes back
    unchanged, as `none`."""
    image = CodeImage(data)
    if not image.sections:
        return "none", data
    names = []
    out = data
    for _ in range(2 if rng.random() < 0.2 else 1):
        name = kind or rng.choices(KINDS, [WEIGHTS[n] for n in KINDS])[0]
        if name == "splice":
            planted = rng.choice(sorted(HOSTILE))
            out = splice(out, image, rng, planted)
            name = f"splice:{planted}"
        else:
            out = MUTATIONS[name](out, image, rng)
        names.append(name)
        kind = None
    return "+".join(names), bytes(out)
