"""Managed device resources (drivers/base/devres.c) and dev_err_probe (drivers/base/core.c).

devm_kmalloc allocates a `struct devres` (its devres_node: list entry, release, name, size:
40 bytes; the data follows, ARCH_KMALLOC_MINALIGN 8 on x86) with kmalloc, so the 100 bytes
of a devm_kzalloc(dev, 100) take a kmalloc-192 object and the data starts 40 bytes in. The
resources of a device are released in the reverse order of their adding when its driver
detaches or its probe fails (devres_release_all). The list is kept here, not in the device's
devres_head, which stays the empty list device_initialize made (no module reads it).
"""

from __future__ import annotations

from kcourse.kapi import dev_printk, errname, kwarn, printk, slab
from kcourse.kapi.registry import function

DEVRES_HEADER = 40  # sizeof(struct devres): struct devres_node (drivers/base/devres.c)
ZERO_SIZE_PTR = 16
EPROBE_DEFER, ENOMEM = 517, 12
__GFP_ZERO = 0x100


def _lists(machine) -> dict[int, list]:
    return machine.objects.setdefault("devres", {})  # device -> [(data, release), ...]


def add(machine, dev: int, data: int, release) -> None:
    """devres_add: `release()` runs when the device's resources go."""
    _lists(machine).setdefault(dev, []).append((data, release))


def release_all(machine, dev: int) -> None:
    """devres_release_all: newest first."""
    entries = _lists(machine).pop(dev, [])
    for _data, release in reversed(entries):
        release()


def _free(call, address: int) -> None:
    slab.kfree(call, address)


@function("void *devm_kmalloc(struct device *dev, size_t size, gfp_t gfp)",
          "drivers/base/devres.c")
def devm_kmalloc(call, dev, size, gfp):
    if not size:
        return ZERO_SIZE_PTR
    dr = slab._kmalloc(call, DEVRES_HEADER + size, gfp)
    if not dr:
        return 0
    data = dr + DEVRES_HEADER
    add(call.machine, dev, data, lambda: _free(call, dr))
    return data


@function("void devm_kfree(struct device *dev, const void *p)", "drivers/base/devres.c")
def devm_kfree(call, dev, p):
    """Memory that is not devm_kmalloc's of this device: devres_destroy fails and
    WARN_ON(rc) fires (ZERO_SIZE_PTR and NULL, and .rodata strings of devm_kstrdup_const,
    are let go first)."""
    if p <= ZERO_SIZE_PTR:  # ZERO_OR_NULL_PTR
        return
    entries = _lists(call.machine).get(dev, [])
    for i, (data, release) in enumerate(entries):
        if data == p:
            del entries[i]
            release()
            return
    kwarn.warn_on(call, "drivers/base/devres.c:1073", "devm_kfree")


@function("int dev_err_probe(const struct device *dev, int err, const char *fmt, ...)",
          "drivers/base/core.c")
def dev_err_probe(call, dev, err, fmt):
    """__dev_probe_failed: -EPROBE_DEFER is only a dev_dbg (and the deferral reason, which
    only debugfs's devices_deferred shows), -ENOMEM prints nothing, anything else is
    dev_err(dev, "error %pe: %pV")."""
    if err in (-EPROBE_DEFER, -ENOMEM):
        return err
    message = bytes(printk.format_call(call, call.machine.space.read_cstring(call.raw(2),
                                                                           1 << 20),
                                       printk.LOG_BUFFER)).decode("utf-8", "surrogateescape")
    shown = errname.errname(err) or str(err)  # %pe of an unknown error is its number
    text = (f"{dev_printk.driver_string(call, dev)} {dev_printk.device_name(call, dev)}: "
            f"error {shown}: {message}")
    call.kernel.log.printk(f"\0013{text if text.endswith(chr(10)) else text + chr(10)}")
    return err
