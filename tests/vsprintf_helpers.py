"""Shared by the vsprintf tests: a va_list of 64-bit slots, a small memory, glibc's snprintf."""

from __future__ import annotations

import ctypes

from kcourse.kapi.vsprintf import BadAddress, vsnprintf

MASK64 = (1 << 64) - 1
STRINGS_AT = 0xFFFF888000100000  # where FakeMemory.add() puts things (a direct-map address)


class SlotArgs:
    """Args over a list of integers, each one register or stack slot."""

    def __init__(self, *values: int):
        self.values, self.taken = [v & MASK64 for v in values], 0

    def next_u64(self) -> int:
        value = self.values[self.taken]  # an IndexError here means a test passed too few
        self.taken += 1
        return value


class FakeMemory:
    """Mapped pages of module memory; anything else raises BadAddress, like a page fault.

    Memory is mapped a page at a time, as in the kernel: the bytes of a page around the data
    that was put there read as 0xaa (not NUL, so a read past a string's end shows up).
    """

    def __init__(self):
        self.pages: dict[int, bytearray] = {}
        self.reads: list[tuple[int, int]] = []
        self._next = STRINGS_AT

    def map(self, address: int, data: bytes) -> int:
        for page in range(address >> 12, ((address + max(len(data), 1) - 1) >> 12) + 1):
            self.pages.setdefault(page, bytearray(b"\xaa" * 4096))
        for i in range(0, len(data), 1):
            a = address + i
            self.pages[a >> 12][a & 0xFFF] = data[i]
        return address

    def add(self, data: bytes) -> int:
        """Map `data` at the next free page(s) and return its address."""
        address = self._next
        self._next += (len(data) // 4096 + 1) * 4096
        return self.map(address, data)

    def __call__(self, address: int, length: int) -> bytes:
        self.reads.append((address, length))
        out = bytearray()
        while len(out) < length:
            a = address + len(out)
            page = self.pages.get(a >> 12) if a <= MASK64 else None
            if page is None:
                raise BadAddress(a, length)
            take = min(length - len(out), 4096 - (a & 0xFFF))
            out += page[a & 0xFFF : (a & 0xFFF) + take]
        return bytes(out)


def kernel(fmt: bytes, *args, memory: FakeMemory | None = None, **kw) -> bytes:
    """Our vsnprintf, with bytes arguments mapped into memory and passed as pointers."""
    memory = memory or FakeMemory()
    slots = [memory.add(a + b"\0") if isinstance(a, bytes) else a for a in args]
    return vsnprintf(fmt, SlotArgs(*slots), memory, **kw)


_libc = ctypes.CDLL("libc.so.6")
_libc.snprintf.restype = ctypes.c_int


def glibc(fmt: bytes, *args) -> bytes:
    """glibc's snprintf with every integer passed as a full 64-bit slot, as a va_list has."""
    c_args = [ctypes.c_char_p(a) if isinstance(a, bytes) else ctypes.c_uint64(a & MASK64)
              for a in args]
    size = 1 << 16
    buf = ctypes.create_string_buffer(size)
    n = _libc.snprintf(buf, ctypes.c_size_t(size), fmt, *c_args)
    assert 0 <= n < size
    return buf.raw[:n]
