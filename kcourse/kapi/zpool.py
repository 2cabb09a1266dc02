"""zpool's driver list: zpool_register_driver and zpool_unregister_driver (mm/zpool.c, 6.1),
which zsmalloc's zs_init and zs_exit call (CONFIG_ZPOOL=y in Debian's config).

Registering sets the driver's refcount to 0 and puts it on drivers_head; unregistering takes
it off unless its refcount is above 0 (-EBUSY; WARN_ON if it is below). The list is kept on
the Python side (the driver's list_head is not written). Nothing here takes a driver:
zpool_create_pool (zpool_get_driver, the refcount's only increment) is called by zswap only,
which uses zbud on Debian's kernel (CONFIG_ZSWAP_ZPOOL_DEFAULT="zbud") and is not modelled.
"""

from __future__ import annotations

from kcourse.kapi import kwarn
from kcourse.kapi.registry import function
from kcourse.kernel import structs as S

EBUSY = 16
REFCOUNT = S.offsetof("zpool_driver", "refcount")


def drivers(machine) -> list[int]:
    return machine.objects.setdefault("zpool_drivers", [])  # newest first (list_add)


@function("void zpool_register_driver(struct zpool_driver *driver)", "mm/zpool.c")
def zpool_register_driver(call, driver):
    call.machine.space.write(driver + REFCOUNT, bytes(4))  # atomic_set(&driver->refcount, 0)
    drivers(call.machine).insert(0, driver)


@function("int zpool_unregister_driver(struct zpool_driver *driver)", "mm/zpool.c")
def zpool_unregister_driver(call, driver):
    refcount = int.from_bytes(call.machine.space.read(driver + REFCOUNT, 4), "little",
                              signed=True)
    if refcount < 0:
        kwarn.warn_on(call, "mm/zpool.c:61", "zpool_unregister_driver")
    if refcount > 0:
        return -EBUSY
    if driver in drivers(call.machine):  # list_del
        drivers(call.machine).remove(driver)
    return 0
