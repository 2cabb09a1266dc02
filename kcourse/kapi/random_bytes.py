"""Random numbers: get_random_bytes and __get_random_u32_below (drivers/char/random.c).

The real ones come from the kernel's ChaCha20 CRNG; here they come from a generator seeded
with the Kernel's seed, so a run is repeatable (a MAC address from eth_hw_addr_random is the
same on every run with one seed, and differs from the real kernel's, which is random).
"""

from __future__ import annotations

import random

from kcourse.kapi.registry import function


def _rng(machine) -> random.Random:
    rng = machine.objects.get("random")
    if rng is None:
        rng = machine.objects["random"] = random.Random(0x5EED ^ machine.kernel.seed)
    return rng


@function("void get_random_bytes(void *buf, size_t len)", "drivers/char/random.c")
def get_random_bytes(call, buf, len):
    rng = _rng(call.machine)
    while len:  # a page at a time: a buffer that runs into unmapped memory faults there
        n = min(len, 4096 - buf % 4096)
        call.machine.space.write(buf, rng.randbytes(n))
        buf, len = buf + n, len - n


@function("u32 __get_random_u32_below(u32 ceil)", "drivers/char/random.c")
def __get_random_u32_below(call, ceil):
    # ceil 0 is get_random_u32() (random.c: "convenient to have that evaluate to being a
    # straight call to get_random_u32()")
    rng = _rng(call.machine)
    return rng.randrange(ceil) if ceil else rng.getrandbits(32)
