"""Device messages: _dev_err, _dev_info and their levels, _dev_printk, dev_driver_string
(drivers/base/core.c, CONFIG_PRINTK).

__dev_printk prints "%s %s: %pV" of dev_driver_string(dev) and dev_name(dev): the bound
driver's name, else the bus's, else the class's, else "" (dev_bus_name,
include/linux/device.h); then the device's init_name, else its kobject's name. A NULL device
is printk("%s(NULL device *): %pV", level). The message goes through dev_vprintk_emit with a
dev_printk_info, which makes vprintk_store set LOG_NEWLINE (kernel/printk/printk.c): a device
message always ends its record, and a later pr_cont cannot continue it. The record's
SUBSYSTEM=/DEVICE= dictionary (set_dev_info) shows only in /dev/kmsg, which kcourse's dmesg
does not read: it is not kept, but its subsystem name is read as the kernel reads it.
"""

from __future__ import annotations

from kcourse.kapi import printk
from kcourse.kapi.registry import function
from kcourse.kernel import structs as S
from kcourse.machine.address_space import BadAccess

DEV = {f: S.offsetof("device", f) for f in ("init_name", "bus", "driver", "class")}
KOBJ_NAME = S.offsetof("device", "kobj") + S.offsetof("kobject", "name")
DRIVER_NAME = S.offsetof("device_driver", "name")
BUS_NAME = S.offsetof("bus_type", "name")
CLASS_NAME = S.offsetof("class", "name")
KERN = {"emerg": 0, "alert": 1, "crit": 2, "err": 3, "warn": 4, "notice": 5, "info": 6}
LOGLEVEL_DEBUG = 7


class Slots:
    """A va_list of given 64-bit values (for the "%s %s: " the kernel formats itself)."""

    def __init__(self, *values: int):
        self.values = list(values)

    def next_u64(self) -> int:
        return self.values.pop(0)


def c_string(call, pointer: int) -> str:
    """What %s prints for a kernel pointer: "(null)", "(efault)" or the string
    (lib/vsprintf.c string() and check_pointer)."""
    return _text(printk.format_call(call, b"%s", printk.LOG_BUFFER, Slots(pointer)))


def _text(data) -> str:
    return bytes(data).decode("utf-8", "surrogateescape")


def driver_string(call, dev: int) -> str:
    """dev_driver_string: drv->name if a driver is bound, else dev_bus_name(dev)."""
    space = call.machine.space
    drv = space.read_u64(dev + DEV["driver"])
    if drv:
        return c_string(call, space.read_u64(drv + DRIVER_NAME))
    bus = space.read_u64(dev + DEV["bus"])
    if bus:
        return c_string(call, space.read_u64(bus + BUS_NAME))
    cls = space.read_u64(dev + DEV["class"])
    if cls:
        return c_string(call, space.read_u64(cls + CLASS_NAME))
    return ""


def device_name(call, dev: int) -> str:
    """dev_name: the init name until the kobject has its name (include/linux/device.h)."""
    space = call.machine.space
    init_name = space.read_u64(dev + DEV["init_name"])
    return c_string(call, init_name or space.read_u64(dev + KOBJ_NAME))


def subsystem(call, dev: int) -> str | None:
    """set_dev_info's SUBSYSTEM: the class's name, else the bus's, else none. strscpy reads
    it with no NULL check: a class or bus whose name is NULL faults there (the real kernel's
    oops is at strnlen+0x17, called from dev_vprintk_emit)."""
    space = call.machine.space
    for field, offset in (("class", CLASS_NAME), ("bus", BUS_NAME)):
        owner = space.read_u64(dev + DEV[field])
        if owner:
            name = space.read_u64(owner + offset)
            if name < 4096:
                raise BadAccess(name)
            return space.read_cstring(name).decode("utf-8", "surrogateescape")
    return None


def emit(call, level: int, dev: int, prefix: str = "") -> None:
    """__dev_printk (and __dynamic_dev_dbg with its prefix): the call's fmt (its last named
    parameter) and its varargs."""
    fmt = call.machine.space.read_cstring(call.raw(len(call.function.params) - 1), 1 << 20)
    message = _text(printk.format_call(call, fmt, printk.LOG_BUFFER))
    log = call.kernel.log
    if not dev:  # printk(level "(NULL device *): %pV"): no dev_info, so it may continue
        log.printk(f"\001{level}(NULL device *): {message}")
        return
    text = f"{prefix}{driver_string(call, dev)} {device_name(call, dev)}: {message}"
    subsystem(call, dev)
    if not text.endswith("\n"):
        text += "\n"  # LOG_NEWLINE: dev_info is set
    log.printk(f"\001{level}{text}")


def _define(name: str, level: int) -> None:
    @function(f"void _dev_{name}(const struct device *dev, const char *fmt, ...)",
              "drivers/base/core.c")
    def dev_level(call, dev, fmt):
        emit(call, level, dev)


for _name, _level in KERN.items():
    _define(_name, _level)


@function("void _dev_printk(const char *level, const struct device *dev, const char *fmt, "
          "...)", "drivers/base/core.c")
def _dev_printk(call, level, dev, fmt):
    """The level is a KERN_<LEVEL> string; __dev_printk takes its digit (level[1] - '0')."""
    digit = (level or b"\0\0")[1:2]
    emit(call, (digit[0] - ord("0")) & 7 if digit else 0, dev)


@function("const char *dev_driver_string(const struct device *dev)", "drivers/base/core.c")
def dev_driver_string(call, dev):
    space = call.machine.space
    drv = space.read_u64(dev + DEV["driver"])
    if drv:
        return space.read_u64(drv + DRIVER_NAME)
    for field, offset in (("bus", BUS_NAME), ("class", CLASS_NAME)):
        owner = space.read_u64(dev + DEV[field])
        if owner:
            return space.read_u64(owner + offset)
    empty = call.machine.objects.get("empty_string")
    if empty is None:
        empty = call.machine.objects["empty_string"] = call.machine.kernel_string(b"\0")
    return empty
