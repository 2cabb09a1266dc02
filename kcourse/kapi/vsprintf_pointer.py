"""%p and its extensions: lib/vsprintf.c pointer() of Linux 6.1 and the handlers it calls.

What Debian's 6.1.0-56-amd64 configuration decides here: CONFIG_KALLSYMS=y (%pS looks symbols
up), CONFIG_STACKTRACE_BUILD_ID unset (%pSb is %pS), CONFIG_SYMBOLIC_ERRNAME=y (%pe prints
names), CONFIG_OF unset ("(%pOF?)"), CONFIG_RUST unset ("(%pA?)"), kptr_restrict 0 at boot
(%pK hashes like %p), no_hash_pointers off. The pointer key is filled long before a module
loads, so "(____ptrval____)" is never printed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from kcourse.errors import KcourseError
from kcourse.kapi import vsprintf_buffers, vsprintf_net, vsprintf_time
from kcourse.kapi.errname import errname
from kcourse.kapi.siphash import ptr_hash
from kcourse.kapi.vsprintf_number import (
    MASK64,
    SIGN,
    KernelWarning,
    Memory,
    Spec,
    at,
    bitfield,
    check_pointer,
    error_string,
    is_err_value,
    number,
    pointer_string,
    read_cstring,
    special_hex_number,
    string,
    string_nocheck,
)

Symbolize = Callable[[int], "str | None"]


class UnsupportedConversion(KcourseError):
    """A %p extension that reads kernel structures kcourse does not model (%pd, %pR, ...)."""

    def __init__(self, conversion: str, what: str):
        super().__init__(f"vsprintf: {conversion} ({what}) is not modelled by kcourse")
        self.conversion = conversion


@dataclass
class Context:
    """What the conversions need from outside: memory, kallsyms, the boot key, WARN."""

    read: Memory
    symbolize: Symbolize | None
    hash_key: int
    warn: Callable[[KernelWarning], None] | None
    vsnprintf: Callable[..., bytes]  # for %pV: vsnprintf(fmt, args, size), this context
    room: int | None = None  # what is left of the buffer where a %p conversion starts
    depth: int = 0  # how many %pV deep

    def warning(self, line: int, function: str, message: str) -> None:
        if self.warn is not None:
            self.warn(KernelWarning(line, function, message))


# "name+0x1a/0x40 [mod]", the text kernel/kallsyms.c __sprint_symbol() writes
_SYMBOL = re.compile(r"^(?P<name>.*?)\+0x(?P<off>[0-9a-f]+)/0x(?P<size>[0-9a-f]+)(?P<mod>.*)$")


def _sprint_symbol(ctx: Context, address: int, symbol_offset: int, add_offset: bool) -> str:
    """kernel/kallsyms.c __sprint_symbol(): %pS, %ps (no offset) and %pB (address - 1)."""
    address &= MASK64
    text = ctx.symbolize((address + symbol_offset) & MASK64) if ctx.symbolize else None
    if text is None:
        return f"0x{address:x}"
    parts = _SYMBOL.match(text)
    if parts is None:
        return text
    if not add_offset:
        return parts["name"] + parts["mod"]
    offset = int(parts["off"], 16) - symbol_offset
    return f"{parts['name']}+{offset:#x}/0x{parts['size']}{parts['mod']}"


def symbol_string(ctx: Context, ptr: int, spec: Spec, fmt: bytes) -> bytes:
    """lib/vsprintf.c symbol_string(): %pS %ps %pB (R and b add nothing on this config)."""
    if fmt[0] == ord("B"):
        sym = _sprint_symbol(ctx, ptr, -1, True)  # sprint_backtrace()
    elif fmt[0] != ord("s"):
        sym = _sprint_symbol(ctx, ptr, 0, True)  # sprint_symbol()
    else:
        sym = _sprint_symbol(ctx, ptr, 0, False)  # sprint_symbol_no_offset()
    return string_nocheck(sym.encode(), spec)


def ptr_to_id(ctx: Context, ptr: int, spec: Spec) -> bytes:
    """lib/vsprintf.c ptr_to_id(): NULL and ERR_PTRs as they are, else the 32-bit hash."""
    if ptr == 0 or is_err_value(ptr):
        return pointer_string(ptr, spec)
    return pointer_string(ptr_hash(ptr, ctx.hash_key), spec)


def err_ptr(ptr: int, spec: Spec) -> bytes:
    """lib/vsprintf.c err_ptr(): %pe of ERR_PTR(-EIO) is "-EIO", unknown codes in decimal."""
    err = bitfield(ptr, 32)  # int err = PTR_ERR(ptr)
    sym = errname(err)
    if sym is not None:
        return string_nocheck(sym.encode(), spec)
    return number(err, replace(spec, flags=spec.flags | SIGN, base=10))


def _u64_at(ctx: Context, ptr: int) -> int:
    return int.from_bytes(ctx.read(ptr, 8), "little")


def address_val(ctx: Context, ptr: int, spec: Spec, fmt: bytes) -> bytes:
    """lib/vsprintf.c address_val(): %pa[p] phys_addr_t, %pad dma_addr_t, both 64-bit."""
    err = check_pointer(ptr, spec)
    return err if err is not None else special_hex_number(_u64_at(ctx, ptr), 8)


def netdev_bits(ctx: Context, ptr: int, spec: Spec, fmt: bytes) -> bytes:
    """lib/vsprintf.c netdev_bits(): %pNF, a netdev_features_t (u64)."""
    err = check_pointer(ptr, spec)
    if err is not None:
        return err
    if at(fmt, 1) != ord("F"):
        return error_string(b"(%pN?)", spec)
    return special_hex_number(_u64_at(ctx, ptr), 8)


def fourcc_string(ctx: Context, ptr: int, spec: Spec, fmt: bytes) -> bytes:
    """lib/vsprintf.c fourcc_string(): %p4cc, "NV12 little-endian (0x3231564e)"."""
    if at(fmt, 1) != ord("c") or at(fmt, 2) != ord("c"):
        return error_string(b"(%p4?)", spec)
    err = check_pointer(ptr, spec)
    if err is not None:
        return err
    orig = int.from_bytes(ctx.read(ptr, 4), "little")
    val = orig & ~(1 << 31)
    chars = bytes(c if 0x20 <= c < 0x7F else ord(".") for c in val.to_bytes(4, "little"))
    endian = b"big-endian" if orig & (1 << 31) else b"little-endian"
    text = chars + b" " + endian + b" (" + special_hex_number(orig, 4) + b")"
    return string_nocheck(text, spec)


VA_FORMAT_DEPTH = 8


class MemoryVaList:
    """A va_list in module memory (x86-64 struct __va_list_tag), read as va_arg() would."""

    def __init__(self, read: Memory, va_list: int):
        raw = read(va_list, 24)
        self.read = read
        self.gp_offset = int.from_bytes(raw[0:4], "little")
        self.overflow_arg_area = int.from_bytes(raw[8:16], "little")
        self.reg_save_area = int.from_bytes(raw[16:24], "little")

    def next_u64(self) -> int:
        if self.gp_offset < 48:  # six integer registers saved by the callee's prologue
            address = self.reg_save_area + self.gp_offset
            self.gp_offset += 8
        else:
            address = self.overflow_arg_area
            self.overflow_arg_area += 8
        return int.from_bytes(self.read(address & MASK64, 8), "little")


def va_format(ctx: Context, ptr: int, spec: Spec, fmt: bytes) -> bytes:
    """lib/vsprintf.c va_format(): %pV of a struct va_format, a nested vsnprintf()."""
    err = check_pointer(ptr, spec)
    if err is not None:
        return err
    if ctx.depth >= VA_FORMAT_DEPTH:  # the real kernel would overflow its stack
        raise UnsupportedConversion("%pV", f"nested more than {VA_FORMAT_DEPTH} deep")
    inner_fmt, va = _u64_at(ctx, ptr), _u64_at(ctx, ptr + 8)
    args = MemoryVaList(ctx.read, va)  # va_copy(va, *va_fmt->va)
    room, ctx.depth = ctx.room, ctx.depth + 1
    try:  # vsnprintf(buf, end > buf ? end - buf : 0, va_fmt->fmt, va)
        return ctx.vsnprintf(read_cstring(ctx.read, inner_fmt, 1 << 16), args, room)
    finally:
        ctx.depth -= 1


def _not_modelled(ptr: int, spec: Spec, conversion: str, what: str) -> bytes:
    # These handlers all start with check_pointer(), so NULL and bad pointers still print
    # what the kernel prints; only a real structure would need kcourse to model it.
    err = check_pointer(ptr, spec)
    if err is not None:
        return err
    raise UnsupportedConversion(conversion, what)


def _net(handler):
    return lambda ctx, ptr, spec, fmt: handler(ctx.read, ptr, spec, fmt)


_HANDLERS = {
    "S": symbol_string, "s": symbol_string, "B": symbol_string,
    "h": _net(vsprintf_buffers.hex_string),
    "M": _net(vsprintf_net.mac_address_string), "m": _net(vsprintf_net.mac_address_string),
    "I": _net(vsprintf_net.ip_addr_string), "i": _net(vsprintf_net.ip_addr_string),
    "U": _net(vsprintf_net.uuid_string),
    "t": _net(vsprintf_time.time_and_date),
    "V": va_format, "N": netdev_bits, "4": fourcc_string, "a": address_val,
}

_NOT_MODELLED = {
    "R": "struct resource", "r": "struct resource", "E": "escaped buffer",
    "d": "struct dentry name", "D": "struct file name", "g": "block device name",
    "C": "struct clk name",
}


def pointer(ctx: Context, fmt: bytes, ptr: int, spec: Spec) -> bytes:
    """lib/vsprintf.c pointer(): fmt is the format after "%p"; ptr is the argument."""
    ptr &= MASK64
    kind = chr(at(fmt, 0))
    if kind in _HANDLERS:  # dereference_symbol_descriptor() is the identity on x86-64
        return _HANDLERS[kind](ctx, ptr, spec, fmt)
    if kind == "b":
        if at(fmt, 1) == ord("l"):
            return vsprintf_buffers.bitmap_list_string(ctx.read, ptr, spec, fmt)
        return vsprintf_buffers.bitmap_string(ctx.read, ptr, spec, fmt)
    if kind == "K":  # restricted_pointer(), kptr_restrict == 0: "Handle as %p"
        return ptr_to_id(ctx, ptr, spec)
    if kind == "E" and spec.field_width == 0:  # escaped_string(): nothing to print
        return b""
    if kind in _NOT_MODELLED:
        return _not_modelled(ptr, spec, "%p" + kind, _NOT_MODELLED[kind])
    if kind == "G":  # flags_string()
        err = check_pointer(ptr, spec)
        if err is None and at(fmt, 1) not in b"pvg":
            return error_string(b"(%pG?)", spec)
        return _not_modelled(ptr, spec, "%pG", "page, vma and gfp flag names")
    if kind == "O":  # device_node_string(fmt + 1) on a kernel without CONFIG_OF
        return error_string(b"(%pOF?)" if at(fmt, 1) == ord("F") else b"(%pO?)", spec)
    if kind == "f":  # fwnode_string(fmt + 1)
        if at(fmt, 1) != ord("w"):
            return error_string(b"(%pf?)", spec)
        return _not_modelled(ptr, spec, "%pfw", "struct fwnode_handle name")
    if kind == "A":  # CONFIG_RUST is not set
        ctx.warning(2466, "pointer", "Please remove %pA from non-Rust code\n")
        return error_string(b"(%pA?)", spec)
    if kind == "x":
        return pointer_string(ptr, spec)
    if kind == "e":  # %pe with a non-ERR_PTR gets treated as plain %p
        return err_ptr(ptr, spec) if is_err_value(ptr) else ptr_to_id(ctx, ptr, spec)
    if kind in "uk":  # %pks and %pus: a string, as %s on direct vsnprintf() use
        if at(fmt, 1) == ord("s"):
            return string(ctx.read, ptr, spec)
        return error_string(b"(einval)", spec)
    return ptr_to_id(ctx, ptr, spec)  # default_pointer(): hash, do not leak addresses
