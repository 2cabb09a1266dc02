"""jiffies, the jiffies conversions and the clocks (kernel/time/time.c, timekeeping.c).

Time is the Kernel's logical clock (kcourse.kernel.printk.Clock, microseconds since boot):
CLOCK_MONOTONIC is that clock; CLOCK_BOOTTIME the same (the machine never suspends);
CLOCK_REALTIME that plus the wall time the machine booted at (seeded); CLOCK_TAI the same
as REALTIME (no NTP has set a TAI offset). Reading a clock takes a little time, as a real
read does (100 ns here), so two reads in a row differ.

jiffies is the variable modules read directly (`jiffies` and `jiffies_64` are one address:
arch/x86/kernel/vmlinux.lds.S `jiffies = jiffies_64;`), kept in step with the clock: it holds
INITIAL_JIFFIES plus the ticks since boot (kcourse.machine.wheel).
"""

from __future__ import annotations

from kcourse.kapi.registry import data, function
from kcourse.kernel import structs
from kcourse.machine import scheduler, wheel

HZ = wheel.HZ
BOOT_REALTIME = 1_796_290_800  # 2026-12-03 09:40:00 UTC, plus a seeded part (realtime_ns)
READ_NS = 100  # what one clock read costs
TIMESPEC_NSEC = structs.offsetof("timespec64", "tv_nsec")
TK_OFFS_REAL, TK_OFFS_BOOT, TK_OFFS_TAI = 0, 1, 2  # include/linux/timekeeping.h


def _kept_in_step(machine, address: int) -> bytes:
    """The jiffies value at `address`, rewritten whenever a tick passes on the clock."""
    def keep(usec):
        value = wheel.jiffies_at(usec)
        if value != keep.last:
            keep.last = value
            machine.space.write_u64(address, value)
    keep.last = wheel.jiffies_at(machine.kernel.clock.usec)
    machine.kernel.clock.watchers.append(keep)
    return keep.last.to_bytes(8, "little")


@data("volatile unsigned long jiffies", "kernel/time/timer.c", 8)
def jiffies(machine, address):
    return _kept_in_step(machine, address)


@data("u64 jiffies_64", "kernel/time/timer.c", 8)
def jiffies_64(machine, address):
    """The same variable as jiffies in vmlinux (here a second copy, kept equal)."""
    return _kept_in_step(machine, address)


def monotonic_ns(call) -> int:
    return scheduler.of(call.machine).now_ns(READ_NS)


def realtime_ns(call) -> int:
    seeded = (call.kernel.seed * 7919) % 3600
    return (BOOT_REALTIME + seeded) * 1_000_000_000 + monotonic_ns(call)


def _timespec(call, ts: int, ns: int) -> None:
    call.machine.space.write_u64(ts, ns // 1_000_000_000)
    call.machine.space.write_u64(ts + TIMESPEC_NSEC, ns % 1_000_000_000)


@function("ktime_t ktime_get(void)", "kernel/time/timekeeping.c")
def ktime_get(call):
    return monotonic_ns(call)


@function("ktime_t ktime_get_raw(void)", "kernel/time/timekeeping.c")
def ktime_get_raw(call):
    return monotonic_ns(call)


@function("ktime_t ktime_get_with_offset(enum tk_offsets offs)", "kernel/time/timekeeping.c")
def ktime_get_with_offset(call, offs):
    """ktime_get_real(), ktime_get_boottime(), ktime_get_clocktai() are inline over this."""
    return realtime_ns(call) if offs in (TK_OFFS_REAL, TK_OFFS_TAI) else monotonic_ns(call)


@function("ktime_t ktime_get_coarse_with_offset(enum tk_offsets offs)",
          "kernel/time/timekeeping.c")
def ktime_get_coarse_with_offset(call, offs):
    return ktime_get_with_offset(call, offs)


@function("u64 ktime_get_mono_fast_ns(void)", "kernel/time/timekeeping.c")
def ktime_get_mono_fast_ns(call):
    return monotonic_ns(call)


@function("u64 ktime_get_raw_fast_ns(void)", "kernel/time/timekeeping.c")
def ktime_get_raw_fast_ns(call):
    return monotonic_ns(call)


@function("u64 ktime_get_boot_fast_ns(void)", "kernel/time/timekeeping.c")
def ktime_get_boot_fast_ns(call):
    return monotonic_ns(call)


@function("u64 ktime_get_real_fast_ns(void)", "kernel/time/timekeeping.c")
def ktime_get_real_fast_ns(call):
    return realtime_ns(call)


@function("void ktime_get_ts64(struct timespec64 *ts)", "kernel/time/timekeeping.c")
def ktime_get_ts64(call, ts):
    _timespec(call, ts, monotonic_ns(call))


@function("void ktime_get_raw_ts64(struct timespec64 *ts)", "kernel/time/timekeeping.c")
def ktime_get_raw_ts64(call, ts):
    _timespec(call, ts, monotonic_ns(call))


@function("void ktime_get_real_ts64(struct timespec64 *ts)", "kernel/time/timekeeping.c")
def ktime_get_real_ts64(call, ts):
    _timespec(call, ts, realtime_ns(call))


@function("void ktime_get_coarse_real_ts64(struct timespec64 *ts)",
          "kernel/time/timekeeping.c")
def ktime_get_coarse_real_ts64(call, ts):
    _timespec(call, ts, realtime_ns(call))


@function("void ktime_get_coarse_ts64(struct timespec64 *ts)", "kernel/time/timekeeping.c")
def ktime_get_coarse_ts64(call, ts):
    _timespec(call, ts, monotonic_ns(call))


@function("time64_t ktime_get_seconds(void)", "kernel/time/timekeeping.c")
def ktime_get_seconds(call):
    return monotonic_ns(call) // 1_000_000_000


@function("time64_t ktime_get_real_seconds(void)", "kernel/time/timekeeping.c")
def ktime_get_real_seconds(call):
    return realtime_ns(call) // 1_000_000_000


@function("unsigned long __msecs_to_jiffies(const unsigned int m)", "kernel/time/time.c")
def __msecs_to_jiffies(call, m):
    return wheel.msecs_to_jiffies(m)


@function("unsigned long __usecs_to_jiffies(const unsigned int u)", "kernel/time/time.c")
def __usecs_to_jiffies(call, u):
    return wheel.usecs_to_jiffies(u)


@function("unsigned int jiffies_to_msecs(const unsigned long j)", "kernel/time/time.c")
def jiffies_to_msecs(call, j):
    return wheel.jiffies_to_msecs(j)


@function("unsigned int jiffies_to_usecs(const unsigned long j)", "kernel/time/time.c")
def jiffies_to_usecs(call, j):
    return wheel.jiffies_to_usecs(j)


@function("u64 jiffies64_to_nsecs(u64 j)", "kernel/time/time.c")
def jiffies64_to_nsecs(call, j):
    return (j * wheel.TICK_USEC * 1000) & (1 << 64) - 1


@function("u64 jiffies64_to_msecs(u64 j)", "kernel/time/time.c")
def jiffies64_to_msecs(call, j):
    return (j * (1000 // HZ)) & (1 << 64) - 1


@function("unsigned long nsecs_to_jiffies(u64 n)", "kernel/time/time.c")
def nsecs_to_jiffies(call, n):
    return n // (1_000_000_000 // HZ)  # nsecs_to_jiffies64: div_u64(n, NSEC_PER_SEC / HZ)


@function("u64 nsecs_to_jiffies64(u64 n)", "kernel/time/time.c")
def nsecs_to_jiffies64(call, n):
    return n // (1_000_000_000 // HZ)


def _round(call, j: int, force_up: bool) -> int:
    """kernel/time/timer.c round_jiffies_common on CPU 0: to a whole second, down when less
    than a quarter second past one (unless force_up); never into the past."""
    original, rem = j, j % HZ
    j = j - rem if rem < HZ // 4 and not force_up else j - rem + HZ
    return j if wheel.to_signed(j - scheduler.of(call.machine).jiffies) > 0 else original


@function("unsigned long round_jiffies(unsigned long j)", "kernel/time/timer.c")
def round_jiffies(call, j):
    return _round(call, j, False)


@function("unsigned long round_jiffies_up(unsigned long j)", "kernel/time/timer.c")
def round_jiffies_up(call, j):
    return _round(call, j, True)


@function("unsigned long round_jiffies_relative(unsigned long j)", "kernel/time/timer.c")
def round_jiffies_relative(call, j):
    now = scheduler.of(call.machine).jiffies
    return (_round(call, j + now, False) - now) & (1 << 64) - 1


@function("unsigned long round_jiffies_up_relative(unsigned long j)", "kernel/time/timer.c")
def round_jiffies_up_relative(call, j):
    now = scheduler.of(call.machine).jiffies
    return (_round(call, j + now, True) - now) & (1 << 64) - 1
