"""%ptR (struct rtc_time) and %ptT (time64_t), as lib/vsprintf.c of Linux 6.1 prints them,
with kernel/time/timeconv.c time64_to_tm() for the calendar arithmetic.
"""

from __future__ import annotations

from kcourse.kapi.vsprintf_number import (
    MASK64,
    ZEROPAD,
    Memory,
    Spec,
    at,
    bitfield,
    check_pointer,
    error_string,
    number,
)

SECS_PER_DAY, SECS_PER_HOUR = 86400, 3600
MASK32 = 0xFFFFFFFF


def _dec(value: int, width: int) -> bytes:
    # default_dec02_spec / default_dec04_spec: the int is widened to unsigned long long
    return number(value, Spec(field_width=width, flags=ZEROPAD, base=10))


def date_str(tm: list[int], raw: bool) -> bytes:
    """lib/vsprintf.c date_str(): YYYY-MM-DD, or tm's own year and month with 'r'."""
    year = bitfield(tm[5] + (0 if raw else 1900), 32)
    mon = bitfield(tm[4] + (0 if raw else 1), 32)
    return _dec(year, 4) + b"-" + _dec(mon, 2) + b"-" + _dec(tm[3], 2)


def time_str(tm: list[int]) -> bytes:
    """lib/vsprintf.c time_str(): HH:MM:SS."""
    return _dec(tm[2], 2) + b":" + _dec(tm[1], 2) + b":" + _dec(tm[0], 2)


def rtc_str(tm: list[int], fmt: bytes) -> bytes:
    """lib/vsprintf.c rtc_str(): [dt] picks date or time only, then 'r' raw, 's' space."""
    have_t = have_d = True
    raw, iso8601_separator = False, True
    count = 2
    if at(fmt, count) == ord("d"):
        have_t, count = False, count + 1
    elif at(fmt, count) == ord("t"):
        have_d, count = False, count + 1
    while True:
        c = at(fmt, count)
        count += 1
        if c == ord("r"):
            raw = True
        elif c == ord("s"):
            iso8601_separator = False
        else:
            break
    out = b""
    if have_d:
        out += date_str(tm, raw)
    if have_d and have_t:
        out += b"T" if iso8601_separator else b" "
    if have_t:
        out += time_str(tm)
    return out


def _div_s64_rem(dividend: int, divisor: int) -> tuple[int, int]:
    # C division truncates towards zero
    q = abs(dividend) // divisor
    q = -q if dividend < 0 else q
    return q, dividend - q * divisor


def time64_to_tm(totalsecs: int) -> list[int]:
    """kernel/time/timeconv.c time64_to_tm(t, 0): [sec, min, hour, mday, mon, year]."""
    days, rem = _div_s64_rem(totalsecs, SECS_PER_DAY)
    while rem < 0:
        rem += SECS_PER_DAY
        days -= 1
    hour, rem = rem // SECS_PER_HOUR, rem % SECS_PER_HOUR
    minute, sec = rem // 60, rem % 60
    # Neri and Schneider, Proposition 6.3, in the kernel's u64/u32 arithmetic
    udays = (days + 2305843009213814918) & MASK64
    u64tmp = (4 * udays + 3) & MASK64
    century, u64tmp = divmod(u64tmp, 146097)
    day_of_century = (u64tmp // 4) & MASK32
    u32tmp = (4 * day_of_century + 3) & MASK32
    u64tmp = 2939745 * u32tmp
    year_of_century = (u64tmp >> 32) & MASK32
    day_of_year = (u64tmp & MASK32) // 2939745 // 4
    year = (100 * century + year_of_century) & MASK64
    u32tmp = (2141 * day_of_year + 132377) & MASK32
    month = u32tmp >> 16
    day = (u32tmp & 0xFFFF) // 2141
    is_jan_or_feb = day_of_year >= 306
    year = (year + is_jan_or_feb - 6313183731940000) & MASK64
    month = month - 12 if is_jan_or_feb else month
    tm_year = bitfield(year - 1900, 64)
    # struct rtc_time holds ints: time64_str() copies the fields across
    return [sec, minute, hour, day + 1, bitfield(month, 32), bitfield(tm_year, 32)]


def time_and_date(read: Memory, ptr: int, spec: Spec, fmt: bytes) -> bytes:
    """lib/vsprintf.c time_and_date(): %ptR reads a struct rtc_time, %ptT a time64_t."""
    err = check_pointer(ptr, spec)
    if err is not None:
        return err
    kind = at(fmt, 1)
    if kind == ord("R"):
        raw = read(ptr, 24)  # tm_sec, tm_min, tm_hour, tm_mday, tm_mon, tm_year
        tm = [bitfield(int.from_bytes(raw[i : i + 4], "little"), 32) for i in range(0, 24, 4)]
        return rtc_str(tm, fmt)
    if kind == ord("T"):
        t = bitfield(int.from_bytes(read(ptr, 8), "little"), 64)
        return rtc_str(time64_to_tm(t), fmt)
    return error_string(b"(%pt?)", spec)
