"""String and number helpers modules call (lib/string.c, lib/kstrtox.c).

gcc expands most constant-size memcpy/memset/strlen inline; what is left are calls to these.
The kstrto* family parses as kcourse.kernel.params already does for parameters (the same
lib/kstrtox.c rules: base auto-detected, one trailing newline, -ERANGE out of range).
"""

from __future__ import annotations

from kcourse.kapi.registry import function
from kcourse.kernel import params as P

EINVAL, ERANGE = 22, 34


def _cmp(a: bytes, b: bytes) -> int:
    for x, y in zip(a + b"\0", b + b"\0", strict=False):
        if x != y:
            return -1 if x < y else 1
        if x == 0:
            break
    return 0


@function("size_t strlen(const char *s)", "lib/string.c")
def strlen(call, s):
    return len(s)


@function("size_t strnlen(const char *s, size_t count)", "lib/string.c")
def strnlen(call, s, count):
    return min(len(s), count)


@function("int strcmp(const char *cs, const char *ct)", "lib/string.c")
def strcmp(call, cs, ct):
    return _cmp(cs, ct)


@function("int strncmp(const char *cs, const char *ct, size_t count)", "lib/string.c")
def strncmp(call, cs, ct, count):
    return _cmp(cs[:count], ct[:count])


@function("void *memcpy(void *dest, const void *src, size_t count)", "arch/x86/lib/memcpy_64.S")
def memcpy(call, dest, src, count):
    space = call.machine.space
    space.write(dest, space.read(src, count))
    return dest


@function("void *memmove(void *dest, const void *src, size_t count)",
          "arch/x86/lib/memmove_64.S")
def memmove(call, dest, src, count):
    return memcpy(call, dest, src, count)


@function("void *memset(void *s, int c, size_t count)", "arch/x86/lib/memset_64.S")
def memset(call, s, c, count):
    call.machine.space.write(s, bytes([c & 0xFF]) * count)
    return s


@function("char *strcpy(char *dest, const char *src)", "lib/string.c")
def strcpy(call, dest, src):
    """gcc makes snprintf(buf, n, "constant") shorter than n into this call."""
    call.machine.space.write(dest, (src or b"") + b"\0")
    return dest


@function("ssize_t strscpy(char *dest, const char *src, size_t count)", "lib/string.c")
def strscpy(call, dest, src, count):
    if count == 0:
        return -7  # -E2BIG
    data = src[:count - 1]
    call.machine.space.write(dest, data + b"\0")
    return len(data) if len(src) < count else -7


def _kstrto(call, s: bytes | None, base: int, res: int, size: int, lo: int, hi: int) -> int:
    text = (s or b"").decode("latin-1")
    try:
        value = P.kstrtoll(text, base) if lo < 0 else P.kstrtoull(text, base)
    except ValueError as err:
        return -(err.args[0] if err.args and isinstance(err.args[0], int) else EINVAL)
    if not lo <= value <= hi:
        return -ERANGE
    call.machine.space.write(res, (value & ((1 << 8 * size) - 1)).to_bytes(size, "little"))
    return 0


@function("int kstrtoint(const char *s, unsigned int base, int *res)", "lib/kstrtox.c")
def kstrtoint(call, s, base, res):
    return _kstrto(call, s, base, res, 4, -(1 << 31), (1 << 31) - 1)


@function("int kstrtouint(const char *s, unsigned int base, unsigned int *res)",
          "lib/kstrtox.c")
def kstrtouint(call, s, base, res):
    return _kstrto(call, s, base, res, 4, 0, (1 << 32) - 1)


@function("int kstrtoll(const char *s, unsigned int base, long long *res)", "lib/kstrtox.c")
def kstrtoll(call, s, base, res):
    return _kstrto(call, s, base, res, 8, -(1 << 63), (1 << 63) - 1)


@function("int kstrtoull(const char *s, unsigned int base, unsigned long long *res)",
          "lib/kstrtox.c")
def kstrtoull(call, s, base, res):
    return _kstrto(call, s, base, res, 8, 0, (1 << 64) - 1)
