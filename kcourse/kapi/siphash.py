"""siphash_1u64(): SipHash-2-4 of one 64-bit word, as lib/siphash.c of Linux 6.1 computes it.

%p prints a pointer as the low 32 bits of siphash_1u64(ptr, &ptr_key) (lib/vsprintf.c
__ptr_to_hashval), where ptr_key is 128 random bits drawn once at boot. kcourse stands for that
key with an integer: its low 64 bits are key[0], the next 64 bits key[1].
"""

from __future__ import annotations

MASK64 = (1 << 64) - 1

# include/linux/siphash.h SIPHASH_CONST_0..3 ("somepseudorandomlygeneratedbytes")
_CONSTS = (0x736F6D6570736575, 0x646F72616E646F6D, 0x6C7967656E657261, 0x7465646279746573)


def _rotl(x: int, b: int) -> int:
    return ((x << b) | (x >> (64 - b))) & MASK64


def _sipround(v0: int, v1: int, v2: int, v3: int) -> tuple[int, int, int, int]:
    # include/linux/siphash.h SIPHASH_PERMUTATION
    v0 = (v0 + v1) & MASK64
    v1 = _rotl(v1, 13) ^ v0
    v0 = _rotl(v0, 32)
    v2 = (v2 + v3) & MASK64
    v3 = _rotl(v3, 16) ^ v2
    v0 = (v0 + v3) & MASK64
    v3 = _rotl(v3, 21) ^ v0
    v2 = (v2 + v1) & MASK64
    v1 = _rotl(v1, 17) ^ v2
    v2 = _rotl(v2, 32)
    return v0, v1, v2, v3


def siphash_1u64(first: int, key0: int, key1: int) -> int:
    """lib/siphash.c siphash_1u64(): PREAMBLE(8), one message word, POSTAMBLE."""
    first &= MASK64
    v0 = _CONSTS[0] ^ key0
    v1 = _CONSTS[1] ^ key1
    v2 = _CONSTS[2] ^ key0
    v3 = _CONSTS[3] ^ key1
    b = 8 << 56
    v3 ^= first
    v0, v1, v2, v3 = _sipround(*_sipround(v0, v1, v2, v3))
    v0 ^= first
    v3 ^= b
    v0, v1, v2, v3 = _sipround(*_sipround(v0, v1, v2, v3))
    v0 ^= b
    v2 ^= 0xFF
    for _ in range(4):
        v0, v1, v2, v3 = _sipround(v0, v1, v2, v3)
    return (v0 ^ v1) ^ (v2 ^ v3)


def ptr_hash(ptr: int, hash_key: int) -> int:
    """lib/vsprintf.c __ptr_to_hashval() on 64-bit: siphash_1u64 masked to 32 bits."""
    key0, key1 = hash_key & MASK64, (hash_key >> 64) & MASK64
    return siphash_1u64(ptr, key0, key1) & 0xFFFFFFFF
