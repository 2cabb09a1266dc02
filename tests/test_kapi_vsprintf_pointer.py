"""kcourse.kapi.vsprintf, %p and its extensions. Expected values come from lib/test_printf.c
and lib/test_siphash.c of Debian's 6.1.192 source (cited by function), from independent
implementations (Python's ipaddress, datetime, errno) where they exist, and otherwise from the
rule in lib/vsprintf.c named next to the case.
"""

from __future__ import annotations

import datetime
import errno
import ipaddress
import os
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kcourse.kapi.errname import ERRNO_NAMES
from kcourse.kapi.siphash import ptr_hash, siphash_1u64
from kcourse.kapi.vsprintf import UnsupportedConversion, vsnprintf
from tests.vsprintf_helpers import MASK64, FakeMemory, SlotArgs, kernel

PTR = 0xFFFF0123456789AB  # lib/test_printf.c PTR (64-bit)
PTR_INVALID = 0xAB
KEY = 0x0F0E0D0C0B0A09080706050403020100


def err_ptr(err: int) -> int:
    return err & MASK64


def test_siphash_matches_the_kernels_own_test_vector():
    # lib/test_siphash.c siphash_test(): siphash_1u64(0x0706050403020100) == vectors[8]
    assert siphash_1u64(0x0706050403020100, 0x0706050403020100, 0x0F0E0D0C0B0A0908) == \
        0x93F5F5799A932462


def test_plain_p_is_a_32_bit_hash_in_16_digits():
    # lib/test_printf.c plain(): hashed, 16 characters, "00000000" first (64-bit)
    out = kernel(b"%p", PTR, hash_key=KEY)
    assert len(out) == 16 and out.startswith(b"00000000") and out != b"%016x" % PTR
    assert out == b"%016x" % ptr_hash(PTR, KEY)
    assert kernel(b"%p", PTR, hash_key=KEY) == out  # one boot, one key
    assert kernel(b"%p", PTR, hash_key=KEY + 1) != out
    assert kernel(b"%p", PTR + 8, hash_key=KEY) != out
    assert kernel(b"%pK", PTR, hash_key=KEY) == out  # restricted_pointer(), kptr_restrict 0
    assert kernel(b"%pZZtop!", PTR, hash_key=KEY) == out + b"!"  # unknown: default_pointer


def test_null_error_and_invalid_pointers():
    # lib/test_printf.c null_pointer(), error_pointer(), invalid_pointer()
    assert kernel(b"%p", 0) == b"0" * 16
    assert kernel(b"%px", 0) == b"0" * 16
    assert kernel(b"%pE", 0) == b"(null)"
    assert kernel(b"%p", err_ptr(-11)) == b"fffffffffffffff5"
    assert kernel(b"%px", err_ptr(-11)) == b"fffffffffffffff5"
    assert kernel(b"%pE", err_ptr(-11)) == b"(efault)"
    assert kernel(b"%p", PTR_INVALID, hash_key=KEY) == b"%016x" % ptr_hash(PTR_INVALID, KEY)
    assert kernel(b"%px", PTR_INVALID) == b"00000000000000ab"
    assert kernel(b"%pE", PTR_INVALID) == b"(efault)"


def test_px_and_widths():
    # pointer_string(): 16 zero-padded digits only when no width is given
    assert kernel(b"%px", PTR) == b"ffff0123456789ab"
    assert kernel(b"[%20px][%-20px][%020px]", 0x1234, 0x1234, 0x1234) == \
        b"[                1234][1234                ][00000000000000001234]"
    assert kernel(b"[%-px]", 0x1234) == b"[1234            ]"  # LEFT drops the ZEROPAD


def test_pe_prints_error_names():
    # lib/test_printf.c errptr()
    assert kernel(b"%pe", err_ptr(-1234)) == b"-1234"
    assert kernel(b"%pe", PTR, hash_key=KEY) == kernel(b"%p", PTR, hash_key=KEY)
    assert kernel(b"(%pe)", err_ptr(-errno.ENOTSOCK)) == b"(-ENOTSOCK)"
    assert kernel(b"(%pe)", err_ptr(-errno.EAGAIN)) == b"(-EAGAIN)"
    assert kernel(b"(%pe)", err_ptr(-errno.EWOULDBLOCK)) == b"(-EAGAIN)"
    assert kernel(b"[%-8pe]", err_ptr(-errno.EIO)) == b"[-EIO    ]"
    assert kernel(b"[%8pe]", err_ptr(-errno.EIO)) == b"[    -EIO]"
    assert kernel(b"%pe", err_ptr(-517)) == b"-EPROBE_DEFER"


def test_errname_table_agrees_with_the_c_librarys_errno_numbers():
    known = {name: n for n, name in ERRNO_NAMES.items() if hasattr(errno, name)}
    assert all(getattr(errno, name) == n for name, n in known.items())
    assert len(known) > 120
    # below 512 every code is one glibc knows too; 512 and up are include/linux/errno.h's own
    assert all(not os.strerror(n).startswith("Unknown error") for n in ERRNO_NAMES if n < 512)
    assert all(os.strerror(n).startswith("Unknown error") for n in ERRNO_NAMES if n >= 512)
    assert ERRNO_NAMES[512] == "ERESTARTSYS" and 531 not in ERRNO_NAMES  # ENOGRACE unlisted


def test_hex_strings():
    # lib/test_printf.c hex_string()
    memory = FakeMemory()
    buf = memory.add(bytes([0xC0, 0xFF, 0xEE]))
    assert kernel(b"%3ph|%3phC|%3phD|%3phN", buf, buf, buf, buf, memory=memory) == \
        b"c0 ff ee|c0:ff:ee|c0-ff-ee|c0ffee"
    assert kernel(b"%*ph|%*phC|%*phD|%*phN", 3, buf, 3, buf, 3, buf, 3, buf, memory=memory) == \
        b"c0 ff ee|c0:ff:ee|c0-ff-ee|c0ffee"
    # hex_string(): one byte without a width, at most 64, nothing (and no read) for width 0
    assert kernel(b"%ph", buf, memory=memory) == b"c0"
    big = memory.add(bytes(range(100)))
    assert kernel(b"%*phN", 100, big, memory=memory) == bytes(range(64)).hex().encode()
    reads = len(memory.reads)
    assert kernel(b"[%*ph]", 0, 0xFFFFFFFFDEAD0000, memory=memory) == b"[]"
    assert len(memory.reads) == reads
    assert kernel(b"%*ph", 4, 0) == b"(null)"


def test_mac_addresses():
    # lib/test_printf.c mac()
    memory = FakeMemory()
    addr = memory.add(bytes([0x2D, 0x48, 0xD6, 0xFC, 0x7A, 0x05]))
    cases = {b"%pM": b"2d:48:d6:fc:7a:05", b"%pMR": b"05:7a:fc:d6:48:2d",
             b"%pMF": b"2d-48-d6-fc-7a-05", b"%pm": b"2d48d6fc7a05", b"%pmR": b"057afcd6482d"}
    for fmt, expected in cases.items():
        assert kernel(fmt, addr, memory=memory) == expected


def sockaddr_in(port: int, addr: int) -> bytes:
    return struct.pack("<H", 2) + struct.pack(">HI", port, addr) + bytes(8)


def test_ipv4_addresses():
    # lib/test_printf.c ip4()
    memory = FakeMemory()
    sa = memory.add(sockaddr_in(12345, 0x7F000001))
    assert kernel(b"%pi4|%pI4", sa + 4, sa + 4, memory=memory) == b"127.000.000.001|127.0.0.1"
    assert kernel(b"%piS|%pIS", sa, sa, memory=memory) == b"127.000.000.001|127.0.0.1"
    sa = memory.add(sockaddr_in(12345, 0x01020304))
    assert kernel(b"%piSp|%pISp", sa, sa, memory=memory) == \
        b"001.002.003.004:12345|1.2.3.4:12345"
    # ip4_string(): 'h' and 'l' read the bytes in reverse (little-endian host), 'n' 'b' not
    assert kernel(b"%pI4h|%pI4l|%pI4n|%pISh", sa + 4, sa + 4, sa + 4, sa, memory=memory) == \
        b"4.3.2.1|4.3.2.1|1.2.3.4|4.3.2.1"
    # ip_addr_string(): other families and other letters
    bad = memory.add(struct.pack("<H", 1) + bytes(14))
    assert kernel(b"%pIS|%pIX|%piX", bad, bad, bad, memory=memory) == \
        b"(einval)|(%pI?)|(%pi?)"


ipv6_words = st.lists(st.sampled_from([0, 0, 0, 1, 0xDB8, 0x2001, 0xFE80]) |
                      st.integers(0, 0xFFFF), min_size=8, max_size=8)


@settings(max_examples=300, deadline=None)
@given(ipv6_words)
def test_ipv6_compressed_is_rfc5952_as_python_writes_it(words):
    address = ipaddress.IPv6Address(struct.pack(">8H", *words))
    if address.ipv4_mapped or (words[4] | 0x0200, words[5]) == (0x0200, 0x5EFE):
        return  # the kernel writes these with a dotted quad: see the next test
    memory = FakeMemory()
    ptr = memory.add(address.packed)
    assert kernel(b"%pI6c", ptr, memory=memory) == str(address).encode()
    assert kernel(b"%pI6", ptr, memory=memory) == address.exploded.encode()
    assert kernel(b"%pi6", ptr, memory=memory) == address.packed.hex().encode()


def test_ipv6_with_a_dotted_quad_and_sockaddr_in6():
    memory = FakeMemory()
    mapped = memory.add(ipaddress.IPv6Address("::ffff:1.2.3.4").packed)
    isatap = memory.add(ipaddress.IPv6Address("fe80::5efe:c000:201").packed)
    # ip6_compressed_string(): v4-mapped and ISATAP addresses end in ip4_string()
    assert kernel(b"%pI6c|%pI6c", mapped, isatap, memory=memory) == \
        b"::ffff:1.2.3.4|fe80::5efe:192.0.2.1"
    sin6 = struct.pack("<H", 10) + struct.pack(">HI", 8080, 0x12345) + \
        ipaddress.IPv6Address("2001:db8::1").packed + struct.pack("<I", 3)
    sa = memory.add(sin6)
    # ip6_addr_string_sa(): brackets once p, f or s is asked for; c compresses
    assert kernel(b"%pISc|%pISpc|%pISpfsc|%piS", sa, sa, sa, sa, memory=memory) == (
        b"2001:db8::1|[2001:db8::1]:8080|[2001:db8::1]:8080/74565%3|"
        b"20010db8000000000000000000000001")


def test_uuids():
    # lib/test_printf.c uuid()
    memory = FakeMemory()
    uuid = memory.add(bytes(range(16)))
    assert kernel(b"%pUb|%pUB|%pUl|%pUL|%pU", *[uuid] * 5, memory=memory) == (
        b"00010203-0405-0607-0809-0a0b0c0d0e0f|00010203-0405-0607-0809-0A0B0C0D0E0F|"
        b"03020100-0504-0706-0809-0a0b0c0d0e0f|03020100-0504-0706-0809-0A0B0C0D0E0F|"
        b"00010203-0405-0607-0809-0a0b0c0d0e0f")


def test_time_and_date():
    # lib/test_printf.c time_and_date()
    memory = FakeMemory()
    tm = memory.add(struct.pack("<9i", 43, 35, 5, 26, 10, 118, 0, 0, 0))
    t = memory.add(struct.pack("<q", 1546615943))
    cases = [
        (b"%pt", [tm], b"(%pt?)"), (b"%ptR", [tm], b"2018-11-26T05:35:43"),
        (b"%ptRr", [tm], b"0118-10-26T05:35:43"),
        (b"%ptRt|%ptRd", [tm, tm], b"05:35:43|2018-11-26"),
        (b"%ptRtr|%ptRdr", [tm, tm], b"05:35:43|0118-10-26"),
        (b"%ptRttr|%ptRdtr", [tm, tm], b"05:35:43|2018-11-26"),
        (b"%ptRt tr|%ptRd tr", [tm, tm], b"05:35:43 tr|2018-11-26 tr"),
        (b"%ptT", [t], b"2019-01-04T15:32:23"), (b"%ptTr", [t], b"0119-00-04T15:32:23"),
        (b"%ptTt|%ptTd", [t, t], b"15:32:23|2019-01-04"),
        (b"%ptTtr|%ptTdr", [t, t], b"15:32:23|0119-00-04"),
        (b"%ptTs", [t], b"2019-01-04 15:32:23"), (b"%ptTsr", [t], b"0119-00-04 15:32:23"),
        (b"%ptTts|%ptTds", [t, t], b"15:32:23|2019-01-04"),
        (b"%ptTtrs|%ptTdrs", [t, t], b"15:32:23|0119-00-04"),
    ]
    for fmt, args, expected in cases:
        assert kernel(fmt, *args, memory=memory) == expected, fmt


EPOCH = datetime.datetime(1970, 1, 1)
FIRST, LAST = datetime.datetime(1, 1, 1), datetime.datetime(9999, 12, 31, 23, 59, 59)


@settings(max_examples=300, deadline=None)
@given(st.integers(int((FIRST - EPOCH).total_seconds()), int((LAST - EPOCH).total_seconds())))
def test_ptT_is_the_proleptic_gregorian_calendar(seconds):
    # kernel/time/timeconv.c time64_to_tm() against Python's datetime
    memory = FakeMemory()
    t = memory.add(struct.pack("<q", seconds))
    expected = (EPOCH + datetime.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S")
    assert kernel(b"%ptT", t, memory=memory) == expected.rjust(19, "0").encode()


def test_bitmaps():
    # lib/test_printf.c bitmap() and large_bitmap()
    memory = FakeMemory()
    zero = memory.add(struct.pack("<Q", 0))
    primes = memory.add(struct.pack("<Q", sum(1 << p for p in (2, 3, 5, 7, 11, 13, 17, 19))))
    full = memory.add(struct.pack("<Q", (1 << 20) - 1))
    assert kernel(b"%20pb|%*pb", zero, 20, zero, memory=memory) == b"00000|00000"
    assert kernel(b"%20pbl|%*pbl", zero, 20, zero, memory=memory) == b"|"
    assert kernel(b"%20pb|%*pb", primes, 20, primes, memory=memory) == b"a28ac|a28ac"
    assert kernel(b"%20pbl|%*pbl", primes, 20, primes, memory=memory) == \
        b"2-3,5,7,11,13,17,19|2-3,5,7,11,13,17,19"
    assert kernel(b"%20pb|%*pb", full, 20, full, memory=memory) == b"fffff|fffff"
    assert kernel(b"%20pbl|%*pbl", full, 20, full, memory=memory) == b"0-19|0-19"
    bits = sum(1 << b for b in range(1, 21)) | sum(1 << b for b in range(60000, 60015))
    large = memory.add(bits.to_bytes(1 << 13, "little"))
    assert kernel(b"%*pbl", 1 << 16, large, memory=memory) == b"1-20,60000-60014"
    # bitmap_string(): 32-bit chunks from the top, the first one only as wide as needed
    wide = memory.add(struct.pack("<QQ", 0x123456789ABCDEF0, 0x1F))
    assert kernel(b"%*pb", 69, wide, memory=memory) == b"1f,12345678,9abcdef0"


def test_fourcc():
    # lib/test_printf.c fourcc_pointer()
    memory = FakeMemory()
    for code, expected in [(0x3231564E, b"NV12 little-endian (0x3231564e)"),
                           (0xB231564E, b"NV12 big-endian (0xb231564e)"),
                           (0x10111213, b".... little-endian (0x10111213)"),
                           (0x20303159, b"Y10  little-endian (0x20303159)")]:
        assert kernel(b"%p4cc", memory.add(struct.pack("<I", code)), memory=memory) == expected
    assert kernel(b"%p4x", PTR) == b"(%p4?)"


def symbols(address: int) -> str | None:
    """A kallsyms with one module function: hello_init, 0x40 bytes at 0xffffffffc0a00000."""
    if 0xFFFFFFFFC0A00000 <= address < 0xFFFFFFFFC0A00040:
        return f"hello_init+{address - 0xFFFFFFFFC0A00000:#x}/0x40 [hello]"
    return None


def test_symbols():
    # kernel/kallsyms.c __sprint_symbol() behind %pS (sprint_symbol), %ps (no offset) and
    # %pB (sprint_backtrace: the address before, then offset + 1); no symbol: "0x%lx"
    site = 0xFFFFFFFFC0A0001A
    assert kernel(b"%pS", site, symbolize=symbols) == b"hello_init+0x1a/0x40 [hello]"
    assert kernel(b"%pSR|%pSb", site, site, symbolize=symbols) == \
        b"hello_init+0x1a/0x40 [hello]|hello_init+0x1a/0x40 [hello]"
    assert kernel(b"%ps", site, symbolize=symbols) == b"hello_init [hello]"
    assert kernel(b"%pB", 0xFFFFFFFFC0A00040, symbolize=symbols) == \
        b"hello_init+0x40/0x40 [hello]"
    assert kernel(b"%pS", 0xFFFFFFFFC0A00040, symbolize=symbols) == b"0xffffffffc0a00040"
    assert kernel(b"%pS|%pB|%ps", 0, 0, 0) == b"0x0|0x0|0x0"
    assert kernel(b"[%-30pS]", site, symbolize=symbols) == b"[hello_init+0x1a/0x40 [hello]  ]"
    assert kernel(b"%pS", 0xFFFFFFFF81000000, symbolize=lambda a: "_stext+0x0/0x10") == \
        b"_stext+0x0/0x10"


def test_addresses_netdev_features_and_strings_by_reference():
    memory = FakeMemory()
    value = memory.add(struct.pack("<Q", 0x12345678))
    # address_val(), netdev_bits(): special_hex_number(), 0x and 16 digits
    assert kernel(b"%pa|%pap|%pad|%pNF", value, value, value, value, memory=memory) == \
        b"0x0000000012345678|" * 3 + b"0x0000000012345678"
    assert kernel(b"%pNx", value, memory=memory) == b"(%pN?)"
    text = memory.add(b"kernel\0")
    assert kernel(b"%pks|%pus|%pkx", text, text, text, memory=memory) == b"kernel|kernel|(einval)"


def test_va_format_nests_vsnprintf_over_a_va_list_in_memory():
    # va_format(): struct va_format { const char *fmt; va_list *va; }, va_list as on x86-64
    memory = FakeMemory()
    fmt = memory.add(b"%s-%d-%x\0")
    string = memory.add(b"abc\0")
    regs = memory.add(bytes(40) + struct.pack("<Q", string))  # rdi..r8 saved, r9 = string
    overflow = memory.add(struct.pack("<QQ", 7, 0xBEEF))
    va_list = memory.add(struct.pack("<IIQQ", 40, 48, overflow, regs))
    va_format = memory.add(struct.pack("<QQ", fmt, va_list))
    assert kernel(b"[%pV]", va_format, memory=memory) == b"[abc-7-beef]"
    assert kernel(b"[%pV]", 0) == b"[(null)]"


def test_va_format_keeps_to_the_room_left_and_to_a_bounded_depth():
    memory = FakeMemory()
    fmt = memory.add(b"%s%s\0")
    text = memory.add(b"0123456789\0")
    regs = memory.add(bytes(8) + struct.pack("<QQ", text, text) + bytes(24))
    va_list = memory.add(struct.pack("<IIQQ", 8, 48, 0, regs))
    va_format = memory.add(struct.pack("<QQ", fmt, va_list))
    out = vsnprintf(b"ab%pV|cd", SlotArgs(va_format), memory, size=8)
    assert (out, out.length) == (b"ab012345", 2 + 20 + 3)
    # a va_format whose format is "%pV" of itself: the kernel would recurse off its stack
    loop_fmt = memory.add(b"%pV\0")
    loop_regs = memory.add(bytes(48))
    loop = memory.add(bytes(32))
    memory.map(loop_regs, bytes(8) + struct.pack("<Q", loop) + bytes(32))
    loop_va = memory.add(struct.pack("<IIQQ", 8, 48, 0, loop_regs))
    memory.map(loop, struct.pack("<QQ", loop_fmt, loop_va))
    with pytest.raises(UnsupportedConversion, match="nested more than 8 deep"):
        vsnprintf(b"%pV", SlotArgs(loop), memory)


def test_configuration_dependent_answers():
    seen = []
    # CONFIG_OF and CONFIG_RUST are not set in Debian's 6.1 amd64 kernel
    assert kernel(b"%pO|%pOF|%pf|%pA", PTR, PTR, PTR, PTR, on_warning=seen.append) == \
        b"(%pO?)|(%pOF?)|(%pf?)|(%pA?)"
    assert [(w.line, w.message) for w in seen] == \
        [(2466, "Please remove %pA from non-Rust code\n")]


@pytest.mark.parametrize("fmt", [b"%pd", b"%pd2", b"%pD", b"%pg", b"%pC", b"%pR", b"%pr",
                                 b"%pE", b"%pGp", b"%pfw"])
def test_structures_not_modelled_stop_with_one_clear_line(fmt):
    # lib/test_printf.c dentry(): NULL and invalid pointers still print what the kernel prints
    assert kernel(fmt, 0) == b"(null)"
    assert kernel(fmt, PTR_INVALID) == b"(efault)"
    with pytest.raises(UnsupportedConversion) as stop:
        kernel(fmt, PTR)
    assert str(stop.value).startswith("vsprintf: %p") and "\n" not in str(stop.value)


def test_flags_with_an_unknown_letter_and_escape_with_no_length():
    assert kernel(b"%pGx", PTR) == b"(%pG?)"
    assert kernel(b"[%*pE]", 0, PTR) == b"[]"
