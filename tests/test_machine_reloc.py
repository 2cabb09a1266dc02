"""kcourse.machine.relocate against arch/x86/kernel/module.c (6.1) __apply_relocate_add.

Expected values and messages are the kernel source's: each relocation type's arithmetic,
the overflow rule of R_X86_64_32/32S, "Unknown rela relocation", the nonzero-target check.
"""

import struct

import pytest

from kcourse.elf import elf64
from kcourse.machine.relocate import RelocationError, apply_relocations

BASE = 0xFFFFFFFFC0001000  # where the target section was placed


def _elf_with(relas):
    """A minimal image: section 1 = target (.text, 32 bytes), section 2 = .rela.text."""
    rela = b"".join(elf64.RELA.pack(off, (sym << 32) | typ, add) for off, typ, sym, add in relas)
    sections = [
        elf64.Section(0, "", 0, 0, 0, 0, 0, 0, 0, 0, 0),
        elf64.Section(1, ".text", elf64.SHT_PROGBITS, 6, 0, 0, 32, 0, 0, 16, 0),
        elf64.Section(2, ".rela.text", elf64.SHT_RELA, 0x40, 0, 64, len(rela), 0, 1, 8, 24),
    ]
    return bytes(64) + rela, sections


def _apply(relas, symbol_values, content=None):
    elf, sections = _elf_with(relas)
    buf = bytearray(content or bytes(32))
    apply_relocations("m", elf, sections, {1: buf}, {1: BASE}, lambda i: symbol_values[i])
    return buf


def test_r_x86_64_64_writes_symbol_plus_addend():
    buf = _apply([(0, 1, 1, 0x10)], {1: 0xFFFFFFFF81000000})
    assert struct.unpack_from("<Q", buf, 0)[0] == 0xFFFFFFFF81000010


def test_pc32_and_plt32_are_relative_to_the_location():
    target = 0xFFFFFFFF81000000
    buf = _apply([(4, 2, 1, -4), (8, 4, 1, -4)], {1: target})
    for off in (4, 8):
        value = struct.unpack_from("<i", buf, off)[0]
        assert BASE + off + value == target - 4  # val - loc, sign-extended from 32 bits


def test_32s_must_sign_extend_and_32_must_fit():
    buf = _apply([(0, 11, 1, 0)], {1: 0xFFFFFFFFC0000040})  # the module area: fits 32S
    assert struct.unpack_from("<i", buf, 0)[0] == -0x3FFFFFC0
    with pytest.raises(RelocationError) as err:
        _apply([(0, 11, 1, 0)], {1: 0xFFFF888000000000})  # the direct map does not
    assert err.value.lines == ("overflow in relocation type 11 val ffff888000000000",
                               "`m' likely not compiled with -mcmodel=kernel")
    with pytest.raises(RelocationError, match="overflow in relocation type 10"):
        _apply([(0, 10, 1, 0)], {1: 1 << 32})


def test_pc64():
    buf = _apply([(16, 24, 1, 0)], {1: BASE + 0x100})
    assert struct.unpack_from("<q", buf, 16)[0] == 0x100 - 16


def test_unknown_type_and_nonzero_target_are_refused_with_the_kernels_words():
    with pytest.raises(RelocationError, match=r"^m: Unknown rela relocation: 9$"):
        _apply([(0, 9, 1, 0)], {1: 0})  # R_X86_64_GOTPCREL
    with pytest.raises(RelocationError, match="Invalid relocation target, existing value is "
                                              "nonzero for type 1"):
        _apply([(0, 1, 1, 0)], {1: 5}, content=b"\x01" + bytes(31))


def test_a_location_outside_the_section_is_refused_not_written():
    with pytest.raises(RelocationError, match="outside the section"):
        _apply([(30, 1, 1, 0)], {1: 5})


def test_none_does_nothing():
    assert _apply([(0, 0, 1, 0)], {1: 5}) == bytearray(32)
