"""kcourse.kapi.vsprintf, the standard conversions: glibc's snprintf is the judge wherever the
kernel follows C, lib/vsprintf.c and lib/test_printf.c (Debian's 6.1.192 source) where the
kernel deliberately does not. Each of those differences is also checked to really differ from
glibc, so a test cannot pass by both sides agreeing on a mistake.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kcourse.kapi.vsprintf import BadAddress, read_cstring, vsnprintf
from tests.vsprintf_helpers import MASK64, FakeMemory, glibc, kernel

INTEGER_CONVERSIONS = "diuxXo"
LENGTH_BITS = {"hh": 8, "h": 16, "": 32, "l": 64, "ll": 64, "L": 64, "z": 64, "t": 64}


@st.composite
def conversions(draw):
    """One conversion and its arguments, in a form both printfs must print alike."""
    conv = draw(st.sampled_from(INTEGER_CONVERSIONS + "cs%"))
    flags = "".join(draw(st.lists(st.sampled_from("-+ #0"), max_size=4)))
    args: list = []
    width = draw(st.sampled_from(["", "n", "*"]))
    if width == "n":
        width = str(draw(st.integers(1, 40)))
    elif width == "*":
        args.append(draw(st.integers(-40, 40)))
    precision = draw(st.sampled_from(["", "n", "*"])) if conv != "%" else ""
    prec_value = None
    if precision == "n":
        prec_value = draw(st.integers(0, 40))
        precision = f".{prec_value}"
    elif precision == "*":
        # a negative '*' precision is 0 in the kernel, "omitted" in C: see the table below
        prec_value = draw(st.integers(0, 40))
        args.append(prec_value)
        precision = ".*"
    # 'L' on an integer is the kernel's ll (format_decode); what glibc reads for it depends
    # on how ctypes passed the argument, so it is tested against the kernel's rule only
    length = draw(st.sampled_from(sorted(set(LENGTH_BITS) - {"L"}))) \
        if conv in INTEGER_CONVERSIONS else ""
    if conv == "%":
        flags, width, args = "", "", []
    if conv in INTEGER_CONVERSIONS:
        value = draw(st.integers(-(1 << 63), MASK64))
        args.append(value)
        seen = value & ((1 << LENGTH_BITS[length]) - 1)
        # the kernel's deliberate differences (each has its own test below)
        zeropad_kept = "0" in flags and "-" not in flags and prec_value is not None
        zero_precision_zero = seen == 0 and prec_value == 0
        hex_prefix_of_zero = "#" in flags and conv in "xX" and seen == 0
        octal_prefix_and_precision = "#" in flags and conv == "o" and prec_value is not None
        if zeropad_kept or zero_precision_zero or hex_prefix_of_zero or \
                octal_prefix_and_precision:
            flags = flags.replace("0", "").replace("#", "")
            if zero_precision_zero:
                args[-1] = value = 1
    elif conv == "c":
        args.append(draw(st.integers(0, MASK64)))
    elif conv == "s":
        args.append(draw(st.binary(max_size=30).map(lambda b: b.replace(b"\0", b"."))))
    return f"%{flags}{width}{precision}{length}{conv}", args


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(conversions(), min_size=1, max_size=4),
       st.sampled_from(["", "|", "text ", "\t"]))
def test_standard_conversions_print_what_glibc_prints(specs, glue):
    fmt = glue.join(f for f, _ in specs).encode() + b"|"
    args = [a for _, a in specs for a in a]
    assert kernel(fmt, *args) == glibc(fmt, *args), fmt


@pytest.mark.parametrize("fmt, args", [
    (b"%d %i %u %x %X %o", [-1, -2, -3, -4, -5, -6]),
    (b"%ld %lu %lx %lld %llu %llx %Ld", [-1, -1, -1, -(1 << 63), MASK64, 1 << 63, -7]),
    (b"%zu %zd %zx %td %tx", [MASK64, MASK64, 1 << 40, -9, -9]),
    (b"%hd %hu %hhd %hhu %hx %hhx", [0x18000, 0x18000, 0x1ff, 0x1ff, -1, -1]),
    (b"[%5d][%-5d][%05d][%+d][% d][%+ d]", [42, 42, -42, 42, 42, 42]),
    (b"[%#x][%#X][%#o][%#10x][%-#10o][%#010x]", [255, 255, 8, 255, 8, 255]),
    (b"[%.5d][%8.3d][%-8.3d][%+.3d][%.3x][%#.3x]", [42, -7, 7, 7, 15, 15]),
    (b"[%*d][%-*d][%*d][%.*d]", [6, 1, 6, 2, -6, 3, 4, 5]),
    (b"[%c][%3c][%-3c][%c]", [ord("a"), ord("b"), ord("c"), 0x141]),
    (b"[%s][%10s][%-10s][%.2s][%*.*s]", [b"kernel", b"abc", b"abc", b"abc", 8, 3, b"abcdef"]),
    (b"100%% [%5%] %%%d", [3]),
])
def test_examples_print_what_glibc_prints(fmt, args):
    assert kernel(fmt, *args) == glibc(fmt, *args)


# The kernel's deliberate differences from C: (format, args, what the kernel prints, source)
KERNEL_NOT_C = [
    # lib/test_printf.c test_number(): "the kernel's printf also produces a single 0"
    (b"%.2d|%.1d|%.0d|%.*d|%1.0d", [0, 0, 0, 0, 0, 0], b"00|0|0|0|0", "test_number"),
    # number(): "0x" is emitted whenever SPECIAL is set for base 16, even for 0
    (b"%#x|%#X|%#.0x", [0, 0, 0], b"0x0|0X0|0x0", "number()"),
    # number(): ZEROPAD is only dropped by LEFT, never by a precision
    (b"[%08.3d][%08.3x][%-08.3d]", [5, 5, 5], b"[00000005][00000005][005     ]", "number()"),
    # number(): the "0" octal prefix comes before the precision zeros
    (b"[%#.3o][%#.5o]", [8, 0o777], b"[0010][000777]", "number()"),
    # lib/test_printf.c test_string(): negative '*' precision is 0, "%.s" is no precision
    (b"[%4.*s]", [-5, b"123456"], b"[    ]", "test_string"),
    (b"[%.s]", [b"123456"], b"[123456]", "test_string"),
    (b"%.s|%.0s|%.*s", [b"a", b"b", 0, b"c"], b"a||", "test_string"),
    (b"%-3.s|%-3.0s|%-3.*s", [b"a", b"b", 0, b"c"], b"a  |   |   ", "test_string"),
    # check_pointer_msg() + error_string(): NULL is "(null)" cut at precision (16 if none)
    (b"[%s][%.3s][%8s]", [0, 0, 0], b"[(null)][(nu][  (null)]", "check_pointer_msg()"),
    # format_decode(): 'j' and 'q' are not qualifiers in 6.1, so %jd is an unknown
    # conversion and vsnprintf() stops there ("goto out")
    (b"a%jdb%d", [1, 2], b"a", "format_decode()"),
    (b"a%qdb", [1], b"a", "format_decode()"),
    # format_decode(): "%n poses a greater security risk than utility" - stop, print nothing
    (b"x%ny", [0], b"x", "format_decode()"),
    (b"x%fy", [0], b"x", "format_decode()"),
]


@pytest.mark.parametrize("fmt, args, expected, source", KERNEL_NOT_C,
                         ids=[f"{c[3]}:{c[0].decode()}" for c in KERNEL_NOT_C])
def test_deliberate_differences_follow_the_kernel(fmt, args, expected, source):
    assert kernel(fmt, *args) == expected
    if b"%n" not in fmt:  # glibc would store through the NULL pointer
        assert glibc(fmt, *args) != expected, "not a difference from C after all"


def test_lib_test_printf_basic_cases():
    # lib/test_printf.c test_basic(), test_number(), test_string()
    assert kernel(b"") == b""
    assert kernel(b"100%%") == b"100%"
    assert kernel(b"xxx%cyyy", ord("%")) == b"xxx%yyy"
    assert kernel(b"xxx%cyyy", 0) == b"xxx\0yyy"
    assert kernel(b"%#-12x", 0x1234ABCD) == b"0x1234abcd  "
    assert kernel(b"%#12x", 0x1234ABCD) == b"  0x1234abcd"
    assert kernel(b"%d|%03d|%3d|%+d|% d|%+d|% d", 0, 1, 12, 123, 1234, -123, -1234) == \
        b"0|001| 12|+123| 1234|-123|-1234"
    assert kernel(b"%hhu|%hhu|%hhu|%hhu|%hhu", 0, 1, 257, 128, -1) == b"0|1|1|128|255"
    assert kernel(b"%hhd|%hhd|%hhd|%hhd|%hhd", 0, 1, 257, 128, -1) == b"0|1|1|-128|-1"
    assert kernel(b"%ho%ho%#ho", 1037, 5282, -11627) == b"2015122420151225"
    assert kernel(b"%#02x|%#02x|%#02x", -16, 0xF0, 0xF0) == b"0xfffffff0|0xf0|0xf0"
    assert kernel(b"%s%.0s", b"", b"123") == b""
    assert kernel(b"%s|%.3s|%.*s", b"ABCD", b"abcdef", 3, b"123456") == b"ABCD|abc|123"
    assert kernel(b"%-3s|%3s|%-*s|%*s|%*s", b"1", b"2", 3, b"3", 3, b"4", -3, b"5") == \
        b"1  |  2|3  |  4|5  "
    assert kernel(b"%-10.4s", b"123456") == b"1234      "
    assert kernel(b"%10.4s", b"123456") == b"      1234"


def test_bad_string_pointers_print_efault_without_reading():
    # lib/vsprintf.c check_pointer_msg(): below PAGE_SIZE or IS_ERR_VALUE -> "(efault)"
    memory = FakeMemory()
    for ptr in (1, 0xFFF, MASK64, -4095):
        assert kernel(b"%s", ptr, memory=memory) == b"(efault)"
    assert kernel(b"[%10s][%-10.4s]", 0x10, -22, memory=memory) == b"[  (efault)][(efa      ]"
    assert memory.reads == []
    with pytest.raises(BadAddress):  # 0x1000 is past the first page: it is read
        kernel(b"%s", 0x1000, memory=memory)


def test_an_unmapped_string_faults_as_the_kernel_would():
    memory = FakeMemory()
    with pytest.raises(BadAddress) as fault:
        kernel(b"%s", 0xFFFFFFFFC0DE0000, memory=memory)
    assert fault.value.address == 0xFFFFFFFFC0DE0000


def test_precision_bounds_the_read():
    # string_nocheck() reads at most `precision` characters: no fault past them
    memory = FakeMemory()
    ptr = memory.map(0xFFFF888000200FFD, b"abc")  # 3 bytes, no NUL, then unmapped
    assert kernel(b"[%.3s][%.0s][%.2s]", ptr, ptr, ptr, memory=memory) == b"[abc][][ab]"
    with pytest.raises(BadAddress):
        kernel(b"%s", ptr, memory=memory)


def test_read_cstring_stops_at_the_nul_and_at_the_limit():
    memory = FakeMemory()
    base = memory.map(0xFFFF888000300000, b"x" * 5000 + b"\0")
    assert read_cstring(memory, base) == b"x" * 4096
    assert read_cstring(memory, base, limit=5001) == b"x" * 5000
    assert read_cstring(memory, base + 4990) == b"x" * 10
    assert read_cstring(memory, base, limit=0) == b""
    # it never reads across into a page it does not need
    end = memory.map(0xFFFF888000400FF0, b"tail\0" + b"\xff" * 11)
    assert read_cstring(memory, end) == b"tail"
    assert all((a % 4096) + n <= 4096 for a, n in memory.reads)


def test_format_stops_at_its_nul():
    assert kernel(b"abc\0%d") == b"abc"


def test_warnings_are_reported_with_their_place_in_vsprintf_c():
    seen = []
    assert kernel(b"a%nb", 0, on_warning=seen.append) == b"a"
    assert kernel(b"%*d", 1 << 24, 5, on_warning=seen.append) == b" " * 8388606 + b"5"
    assert kernel(b"%.*d", 1 << 15, 5, on_warning=seen.append) == b"0" * 32766 + b"5"
    assert [(w.line, w.function) for w in seen] == \
        [(2661, "format_decode"), (2693, "set_field_width"), (2702, "set_precision")]
    assert seen[0].message == "Please remove unsupported %n in format string\n"
    assert seen[1].message == "field width 16777216 too large"
    assert seen[2].message == "precision 32768 too large"


def test_a_size_bounds_what_is_kept_but_not_the_length():
    out = kernel(b"[%*d]%s", 8388607, 5, b"tail", size=10)
    assert (out, out.length) == (b"[" + b" " * 9, 8388607 + 2 + 4)
    assert kernel(b"%s", b"abc", size=0) == b"" and kernel(b"abc").length == 3


def test_literal_widths_wrap_like_the_bitfields_they_land_in():
    # struct printf_spec: field_width is signed 24-bit, precision signed 16-bit; format_decode
    # assigns skip_atoi() into them without the clamp set_field_width() applies to '*'
    assert kernel(b"[%16777218d]", 7) == b"[ 7]"  # 16777218 mod 2^24 = 2
    assert kernel(b"[%.65539d]", 7) == b"[007]"  # 65539 mod 2^16 = 3
    assert kernel(b"[%.40000d]", 7) == b"[7]"  # 40000 - 65536 < 0, so precision 0


def test_trailing_percent_and_lonely_flags_end_the_output():
    assert kernel(b"abc%") == b"abc"
    assert kernel(b"abc%-") == b"abc"


class EndlessArgs:
    """A va_list that never runs out: hostile code can pass any number of conversions."""

    def __init__(self, values: list[int]):
        self.values, self.i = values or [0], 0

    def next_u64(self) -> int:
        self.i += 1
        return self.values[self.i % len(self.values)] & MASK64


hostile_formats = st.lists(st.sampled_from(
    [b"%", b"%%", b"%p", b"%*", b".*", b"-", b"0", b"#", b"9999999", b"l", b"h", b"z", b"L",
     b"d", b"s", b"c", b"x", b"n", b"S", b"V", b"h", b"b", b"I", b"6", b"S", b"c", b"M", b"U",
     b"t", b"R", b"T", b"e", b"K", b"4", b"a", b"N", b"E", b"G", b"f", b"w", b"k", b"\0", b"|"]),
    max_size=20).map(b"".join)


@settings(max_examples=600, deadline=None)
@given(hostile_formats, st.lists(st.sampled_from(
    [0, 1, 0xFFF, 0x1000, 1 << 24, -1, -4095, 0xFFFF888000100000, 0xFFFF888000100010,
     0xFFFFFFFFC0000000]) | st.integers(0, MASK64), max_size=8))
def test_hostile_formats_end_in_output_or_one_clear_error(fmt, values):
    from kcourse.errors import KcourseError

    memory = FakeMemory()
    memory.add(bytes(range(256)) * 8)  # one mapped area the arguments may point into
    try:
        out = vsnprintf(fmt, EndlessArgs(values), memory, size=4096)
    except (BadAddress, KcourseError) as stop:
        assert "\n" not in str(stop)
    else:
        assert isinstance(out, bytes) and len(out) <= 4096


def test_printk_level_prefixes_pass_through_untouched():
    # include/linux/kern_levels.h: KERN_SOH "\001" and a level; printk.c parses them, not
    # vsnprintf, which copies them as text
    assert kernel(b"\x016hello %d\n", 1) == b"\x016hello 1\n"
    assert kernel(b"\x01c, %s\n", b"more") == b"\x01c, more\n"
