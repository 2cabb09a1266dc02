"""printk and the formatted-print family (kernel/printk/printk.c, lib/vsprintf.c)."""

from __future__ import annotations

from kcourse.errors import KcourseError
from kcourse.kapi import vsprintf
from kcourse.kapi.registry import function
from kcourse.kernel.kernel import SimulatorLimit
from kcourse.machine.address_space import BadAccess

LOG_BUFFER = 1024  # printk's record buffer (PRINTKRB_RECORD_MAX, kernel/printk/printk.c)
SPRINTF_CAP = 1 << 20  # sprintf has no size: the module's buffer is its own business


def format_call(call, fmt: bytes, size: int, args=None) -> vsprintf.Formatted:
    """vsnprintf(fmt, the call's varargs, or `args`) against the machine's memory, keeping
    at most `size` bytes. A %s of a pointer that is not mapped faults inside the kernel's string(),
    as on the real kernel: the oops names the calling function."""
    space = call.machine.space

    def read(address: int, length: int) -> bytes:
        try:
            return space.read(address, length)
        except BadAccess as err:
            raise vsprintf.BadAddress(address) from err

    try:
        return vsprintf.vsnprintf(fmt or b"", args or call.varargs(), read, call.machine.symbolize,
                                  hash_key=call.kernel.seed, size=size)
    except vsprintf.BadAddress as bad:
        from kcourse.machine.machine import ModuleFault

        address = getattr(bad, "address", None)
        if address is None:
            address = bad.args[0] if bad.args and isinstance(bad.args[0], int) else 0
        raise ModuleFault(14, call.machine.address_of(call.function.name), address,
                          call.machine.cpu.registers()) from None
    except KcourseError as err:  # UnsupportedConversion: a %p extension not modelled
        raise SimulatorLimit(f"kcourse: {call.site}: {err}; run it on the real kernel with "
                             "`kcourse sim --real`") from None


@function("int _printk(const char *fmt, ...)", "kernel/printk/printk.c")
def _printk(call, fmt):
    """vprintk_emit: the level prefix stays for the ring buffer to parse; returns the length
    of the formatted message (printk.c: vprintk_store returns text_len)."""
    text = format_call(call, fmt, LOG_BUFFER)
    call.kernel.log.printk(text.decode("utf-8", "surrogateescape"))
    return len(text)


def _store(call, buf: int, size: int, fmt: bytes, clamp: bool) -> int:
    """vsnprintf into buf: at most size-1 bytes and a NUL. snprintf returns the length the
    whole text would have had; scnprintf what was written (lib/vsprintf.c)."""
    size = min(size, SPRINTF_CAP)
    text = format_call(call, fmt, max(size - 1, 0))
    if size > 0:
        call.machine.space.write(buf, bytes(text) + b"\0")
    return len(text) if clamp else text.length


@function("int sprintf(char *buf, const char *fmt, ...)", "lib/vsprintf.c")
def sprintf(call, buf, fmt):
    text = format_call(call, fmt, SPRINTF_CAP)
    call.machine.space.write(buf, bytes(text) + b"\0")
    return len(text)


@function("int snprintf(char *buf, size_t size, const char *fmt, ...)", "lib/vsprintf.c")
def snprintf(call, buf, size, fmt):
    return _store(call, buf, size, fmt, clamp=False)


@function("int scnprintf(char *buf, size_t size, const char *fmt, ...)", "lib/vsprintf.c")
def scnprintf(call, buf, size, fmt):
    """scnprintf returns what was written, not what would have been (lib/vsprintf.c)."""
    return _store(call, buf, size, fmt, clamp=True)
