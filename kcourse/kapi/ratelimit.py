"""___ratelimit (lib/ratelimit.c), behind the __ratelimit() and printk_ratelimited() macros.

struct ratelimit_state (include/linux/ratelimit_types.h) as gcc lays it out against the
pinned headers (raw_spinlock_t is 4 bytes without lock debugging): lock 0, interval 4,
burst 8, printed 12, missed 16, begin 24, flags 32; 40 bytes. At most `burst` callers pass in
each `interval` jiffies from `begin`; the others are counted in `missed`, and the first call
after the interval prints "<func>: <missed> callbacks suppressed" (KERN_WARNING, through
printk_deferred) unless RATELIMIT_MSG_ON_RELEASE is set. An interval of 0 lets everything
pass; a state whose lock is held (raw_spin_trylock_irqsave fails) lets nothing pass.
"""

from __future__ import annotations

from kcourse.kapi.registry import function
from kcourse.machine import scheduler

LOCK, INTERVAL, BURST, PRINTED, MISSED, BEGIN, FLAGS = 0, 4, 8, 12, 16, 24, 32
RATELIMIT_MSG_ON_RELEASE = 1  # BIT(0)
KERN_WARNING = 4


def _s32(raw: bytes) -> int:
    value = int.from_bytes(raw, "little")
    return value - (1 << 32) if value & 0x8000_0000 else value


@function("int ___ratelimit(struct ratelimit_state *rs, const char *func)", "lib/ratelimit.c")
def ___ratelimit(call, rs, func):
    space = call.machine.space
    state = space.read(rs, 40)

    def field(at: int) -> int:
        return _s32(state[at:at + 4])

    interval, burst = field(INTERVAL), field(BURST)
    if not interval:
        return 1
    if field(LOCK):
        return 0
    jiffies = scheduler.of(call.machine).jiffies & (1 << 64) - 1
    begin = int.from_bytes(state[BEGIN:BEGIN + 8], "little")
    printed, missed = field(PRINTED), field(MISSED)
    if not begin:
        begin = jiffies
    if (begin + interval - jiffies) & (1 << 63):  # time_is_before_jiffies(begin + interval)
        if missed and not int.from_bytes(state[FLAGS:FLAGS + 8], "little") & \
                RATELIMIT_MSG_ON_RELEASE:
            name = (func or b"").decode("utf-8", "surrogateescape")
            call.kernel.log.printk(f"\001{KERN_WARNING}{name}: {missed} callbacks "
                                   "suppressed\n")
            missed = 0
        begin, printed = jiffies, 0
    if burst and burst > printed:
        printed += 1
        ret = 1
    else:
        missed += 1
        ret = 0
    space.write(rs + PRINTED, (printed & 0xFFFF_FFFF).to_bytes(4, "little") +
                (missed & 0xFFFF_FFFF).to_bytes(4, "little"))
    space.write(rs + BEGIN, begin.to_bytes(8, "little"))
    return ret
