"""Jiffies and the timer wheel of Linux 6.1 (kernel/time/timer.c), on the Kernel's clock.

- jiffies: INITIAL_JIFFIES (5 minutes before wrap, include/linux/jiffies.h) plus one per tick,
  a tick every 1/HZ s (CONFIG_HZ=250: 4 ms); the clock's microseconds since boot count ticks,
  so jiffies reaches J at (J - INITIAL_JIFFIES) * 4000 us.
- A timer never fires early, and fires at its wheel bucket: calc_wheel_index() puts an expiry
  in the level whose range holds `expires - base->clk` and rounds it up to that level's
  granularity (calc_index: `(expires >> LVL_SHIFT(lvl)) + 1 << LVL_SHIFT(lvl)`), so a timer
  10 jiffies ahead fires at 11, one 125 ahead at the next multiple of 8 past it, one 500
  ahead at the next multiple of 64. Recorded on the real kernel: tests/data/sched/sk_timer.
- Expired buckets run level by level, the highest first (__run_timers: `while (levels--)`),
  and each bucket newest first (enqueue_timer: hlist_add_head).
"""

from __future__ import annotations

from kcourse.kernel.memory import HZ, INITIAL_JIFFIES

TICK_USEC = 1_000_000 // HZ
LVL_CLK_SHIFT, LVL_BITS = 3, 6
LVL_SIZE = 1 << LVL_BITS
LVL_DEPTH = 9  # HZ > 100
MAX_JIFFY_OFFSET = ((1 << 63) - 1 >> 1) - 1  # include/linux/jiffies.h: (LONG_MAX >> 1) - 1


def lvl_start(n: int) -> int:
    return (LVL_SIZE - 1) << ((n - 1) * LVL_CLK_SHIFT)


WHEEL_TIMEOUT_CUTOFF = lvl_start(LVL_DEPTH)
WHEEL_TIMEOUT_MAX = WHEEL_TIMEOUT_CUTOFF - (1 << ((LVL_DEPTH - 1) * LVL_CLK_SHIFT))


def jiffies_at(usec: int) -> int:
    return INITIAL_JIFFIES + usec * HZ // 1_000_000


def tick_usec(jiffies: int) -> int:
    """When jiffies becomes `jiffies` (the tick interrupt that counts it)."""
    return (jiffies - INITIAL_JIFFIES) * TICK_USEC


def to_signed(value: int) -> int:
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >> 63 else value


def bucket(expires: int, clk: int) -> tuple[int, int]:
    """calc_wheel_index: (the bucket's expiry in jiffies, the level)."""
    delta = to_signed(expires - clk)
    if delta < 0:
        return clk, 0
    for level in range(LVL_DEPTH - 1):
        if delta < lvl_start(level + 1):
            shift = level * LVL_CLK_SHIFT
            return ((expires >> shift) + 1) << shift, level
    if delta >= WHEEL_TIMEOUT_CUTOFF:
        expires = clk + WHEEL_TIMEOUT_MAX
    shift = (LVL_DEPTH - 1) * LVL_CLK_SHIFT
    return ((expires >> shift) + 1) << shift, LVL_DEPTH - 1


def msecs_to_jiffies(m: int) -> int:
    """kernel/time/time.c __msecs_to_jiffies(unsigned int m) with HZ=250 (MSEC_PER_SEC % HZ
    == 0): rounded up; a negative int means "forever", MAX_JIFFY_OFFSET."""
    if m >= 1 << 31:
        return MAX_JIFFY_OFFSET
    return (m + (1000 // HZ) - 1) // (1000 // HZ)


def usecs_to_jiffies(u: int) -> int:
    """__usecs_to_jiffies: rounded up; past the maximum, MAX_JIFFY_OFFSET."""
    if u > jiffies_to_usecs(MAX_JIFFY_OFFSET):
        return MAX_JIFFY_OFFSET
    return (u + TICK_USEC - 1) // TICK_USEC


def jiffies_to_msecs(j: int) -> int:
    return (j * (1000 // HZ)) & 0xFFFF_FFFF  # returns unsigned int


def jiffies_to_usecs(j: int) -> int:
    return (j * TICK_USEC) & 0xFFFF_FFFF
