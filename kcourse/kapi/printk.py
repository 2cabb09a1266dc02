"""printk and the formatted-print family (kernel/printk/printk.c, lib/vsprintf.c)."""

from __future__ import annotations

from kcourse.kapi import vsprintf
from kcourse.kapi.registry import function
from kcourse.machine.address_space import BadAccess


def format_call(call, fmt: bytes) -> bytes:
    """vsnprintf(fmt, the call's varargs) against the machine's memory."""
    space = call.machine.space

    def read(address: int, length: int) -> bytes:
        try:
            return space.read(address, length)
        except BadAccess as err:
            raise vsprintf.BadAddress(address) from err

    return vsprintf.vsnprintf(fmt or b"", call.varargs(), read, call.machine.symbolize,
                              hash_key=call.kernel.seed)


@function("int _printk(const char *fmt, ...)", "kernel/printk/printk.c")
def _printk(call, fmt):
    """vprintk_emit: the level prefix stays for the ring buffer to parse; returns the length
    of the formatted message (printk.c: vprintk_store returns text_len)."""
    text = format_call(call, fmt)
    call.kernel.log.printk(text.decode("utf-8", "surrogateescape"))
    return len(text)


def _store(call, buf: int, size: int, text: bytes, clamp: bool) -> int:
    """Write the snprintf result into buf (at most size-1 bytes and a NUL)."""
    if size > 0:
        kept = text[:size - 1]
        call.machine.space.write(buf, kept + b"\0")
        if clamp:
            return len(kept)
    return len(text) if not clamp else 0


@function("int sprintf(char *buf, const char *fmt, ...)", "lib/vsprintf.c")
def sprintf(call, buf, fmt):
    text = format_call(call, fmt)
    call.machine.space.write(buf, text + b"\0")
    return len(text)


@function("int snprintf(char *buf, size_t size, const char *fmt, ...)", "lib/vsprintf.c")
def snprintf(call, buf, size, fmt):
    return _store(call, buf, size, format_call(call, fmt), clamp=False)


@function("int scnprintf(char *buf, size_t size, const char *fmt, ...)", "lib/vsprintf.c")
def scnprintf(call, buf, size, fmt):
    """scnprintf returns what was written, not what would have been (lib/vsprintf.c)."""
    return _store(call, buf, size, format_call(call, fmt), clamp=True)
