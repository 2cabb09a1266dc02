"""PCI driver registration (drivers/pci/pci-driver.c) on the lab's QEMU machine.

__pci_register_driver fills the embedded device_driver (name, bus = pci_bus_type, owner,
mod_name, groups) and the empty dynamic-id list, then driver_register
(kcourse.kapi.busdriver). The guest's four PCI devices have no driver (GUEST_DEVICES); a
driver whose id_table matches one of them (pci_match_one_device: vendor, device, subvendor,
subdevice with PCI_ANY_ID, then class under class_mask) would probe that real device, which
is not modelled: the load stops there with one line. Else nothing is probed, as on the
guest. Offsets (struct pci_driver: name 16, id_table 24, probe 32, driver 120, dynids 264;
struct pci_device_id 40 bytes) are gcc's against the pinned headers
(tests/data/kapi4/busprobe).
"""

from __future__ import annotations

import struct

from kcourse.kapi import busdriver
from kcourse.kapi.registry import data, function
from kcourse.kernel import structs as S
from kcourse.kernel.kernel import SimulatorLimit

NAME, ID_TABLE, DRIVER, DYNIDS = 16, 24, 120, 264
GROUPS, DEV_GROUPS = 104, 112
DEV_GROUPS_AT = S.offsetof("device_driver", "dev_groups")
ID_SIZE = 40
PCI_ANY_ID = 0xFFFF_FFFF
# `ls /sys/bus/pci/drivers` on the guest
BOOT = frozenset("""8250_mid 8250_pericom agpgart-intel agpgart-sis agpgart-via iosf_mbi_pci
    pcieport serial shpchp xen-platform-pci""".split())
ATTRS = ("bind", "new_id", "remove_id", "uevent", "unbind")
# (slot, vendor, device, subsystem vendor, subsystem device, class): the guest's devices
GUEST_DEVICES = (("0000:00:00.0", 0x8086, 0x1237, 0x1AF4, 0x1100, 0x060000),
                 ("0000:00:01.0", 0x8086, 0x7000, 0x1AF4, 0x1100, 0x060100),
                 ("0000:00:01.1", 0x8086, 0x7010, 0x1AF4, 0x1100, 0x010180),
                 ("0000:00:01.3", 0x8086, 0x7113, 0x1AF4, 0x1100, 0x068000))


@data("struct bus_type pci_bus_type", "drivers/pci/pci-driver.c", busdriver.BUS_SIZE)
def pci_bus_type(machine, address):
    return busdriver.bus_bytes(machine, "pci")


def ids(machine, table: int):
    """The entries of an id_table, up to the one with vendor, subvendor and class_mask 0."""
    for i in range(4096):
        vendor, device, subvendor, subdevice, cls, mask, _data, override = struct.unpack(
            "<IIIIIIQI4x", machine.space.read(table + i * ID_SIZE, ID_SIZE))
        if not (vendor or subvendor or mask):
            return
        if not override:  # override_only entries match through driver_override alone
            yield vendor, device, subvendor, subdevice, cls, mask


def _matches(entry, device) -> bool:
    """pci_match_one_device."""
    vendor, dev, subvendor, subdevice, cls, mask = entry
    _slot, v, d, sv, sd, c = device
    return all(want in (PCI_ANY_ID, have) for want, have in
               ((vendor, v), (dev, d), (subvendor, sv), (subdevice, sd))) and \
        not (cls ^ c) & mask


@function("int __pci_register_driver(struct pci_driver *drv, struct module *owner, "
          "const char *mod_name)", "drivers/pci/pci-driver.c")
def __pci_register_driver(call, drv, owner, mod_name):
    machine, space = call.machine, call.machine.space
    driver = drv + DRIVER
    name_at = space.read_u64(drv + NAME)
    D = busdriver.DRV
    space.write_u64(driver + D["name"], name_at)
    space.write_u64(driver + D["bus"], machine.address_of("pci_bus_type"))
    space.write_u64(driver + D["owner"], owner)
    space.write_u64(driver + D["mod_name"], call.raw(2))
    space.write_u64(driver + D["groups"], space.read_u64(drv + GROUPS))
    space.write_u64(driver + DEV_GROUPS_AT, space.read_u64(drv + DEV_GROUPS))
    space.write(drv + DYNIDS, bytes(8))  # spin_lock_init
    head = drv + DYNIDS + 8
    space.write_u64(head, head)  # INIT_LIST_HEAD
    space.write_u64(head + 8, head)
    table = space.read_u64(drv + ID_TABLE)
    if table:
        for entry in ids(machine, table):
            hit = next((d for d in GUEST_DEVICES if _matches(entry, d)), None)
            if hit is not None:
                name = space.read_cstring(name_at).decode("utf-8", "surrogateescape")
                raise SimulatorLimit(
                    f"kcourse: {call.site}: PCI driver {name} matches the lab machine's "
                    f"device {hit[0]} ({hit[1]:04x}:{hit[2]:04x}), whose hardware the "
                    "simulator does not model; run it on the real kernel with "
                    "`kcourse sim --real`")
    return busdriver.register(call, "pci", driver, BOOT, ATTRS)



@function("void pci_unregister_driver(struct pci_driver *dev)", "drivers/pci/pci-driver.c")
def pci_unregister_driver(call, dev):
    busdriver.unregister(call, "pci", dev + DRIVER)  # and pci_free_dynids: none were added
