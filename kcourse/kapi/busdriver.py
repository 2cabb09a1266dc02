"""driver_register and driver_unregister (drivers/base/driver.c, bus.c) for the buses where the
lab's guest has nothing for a module's driver to bind: its PCI devices (host bridge 8086:1237,
ISA 8086:7000, IDE 8086:7010, ACPI/SMBus 8086:7113) have no driver and match only what
kcourse.kapi.pci refuses, and it has no I2C adapter, so no I2C client.

driver_register: a name the bus already has is "Error: Driver '%s' is already registered,
aborting..." and -EBUSY (the guest's own drivers are each bus's `boot` names); a driver that
sets device_driver.probe, remove or shutdown on a bus that has its own is warned as
needing an update; driver attribute groups are not modelled (one line). Then
/sys/bus/<bus>/drivers/<name>/ with the bus's attribute files (write-only, writing them is
not modelled), `module` and /sys/module/<m>/drivers/<bus>:<name> for a module's driver.
"""

from __future__ import annotations

import stat

from kcourse.kapi.textfile import TextOps
from kcourse.kernel import structs as S
from kcourse.kernel.kernel import SimulatorLimit
from kcourse.kernel.nodes import Node

DRV = {f: S.offsetof("device_driver", f) for f in (
    "name", "bus", "owner", "mod_name", "probe", "remove", "shutdown", "groups")}
EBUSY, EACCES = 16, 13
BUS_SIZE = S.sizeof("bus_type")


def bus_bytes(machine, name: str) -> bytes:
    """A struct bus_type with its name (the rest of it is the kernel's own business)."""
    return machine.kernel_string(name.encode() + b"\0").to_bytes(8, "little") + \
        bytes(BUS_SIZE - 8)


def _not_modelled(bus: str, attr: str):
    def write(text):
        raise SimulatorLimit(f"kcourse: writing a {bus} driver's {attr} file is not modelled; "
                             "run it on the real kernel with `kcourse sim --real`")
    return write


def _tree(call, bus: str) -> None:
    nodes = call.kernel.nodes
    for path in ("/sys/bus", f"/sys/bus/{bus}", f"/sys/bus/{bus}/drivers",
                 f"/sys/bus/{bus}/devices"):
        if nodes.get(path) is None:
            nodes.add(Node(path, stat.S_IFDIR | 0o755))


def register(call, bus: str, driver: int, boot: frozenset[str], attrs: tuple[str, ...],
             bus_has_methods: bool = True) -> int:
    """driver_register(driver) on `bus`: 0 or -EBUSY."""
    machine, space = call.machine, call.machine.space
    name = space.read_cstring(space.read_u64(driver + DRV["name"])).decode(
        "utf-8", "surrogateescape")
    log = call.kernel.log
    if bus_has_methods and any(space.read_u64(driver + DRV[f]) for f in
                               ("probe", "remove", "shutdown")):
        log.printk(f"\0014Driver '{name}' needs updating - please use bus_type methods\n")
    path = f"/sys/bus/{bus}/drivers/{name}"
    nodes = call.kernel.nodes
    if name in boot or nodes.get(path) is not None:
        log.printk(f"\0013Error: Driver '{name}' is already registered, aborting...\n")
        return -EBUSY
    if space.read_u64(driver + DRV["groups"]):
        raise SimulatorLimit(f"kcourse: {call.site} registers {bus} driver {name} with "
                             "attribute groups, which the simulator does not model; run it "
                             "on the real kernel with `kcourse sim --real`")
    _tree(call, bus)
    rnode = nodes.add(Node(path, stat.S_IFDIR | 0o755, owner=call.caller,
                           data={"kind": f"{bus}_driver", "driver": driver}))
    rnode.data["driver"] = driver
    for attr in attrs:
        nodes.add(Node(f"{path}/{attr}", stat.S_IFREG | 0o200, owner=call.caller, size=4096,
                       ops=TextOps(None, _not_modelled(bus, attr), kernfs=True,
                                   missing=EACCES)))
    owner = space.read_u64(driver + DRV["owner"])
    module = next((c.module for c in machine.codes if c.this_module == owner), None) \
        if owner else None
    if module is not None:  # module_add_driver
        nodes.add(Node(f"{path}/module", stat.S_IFLNK | 0o777, owner=call.caller))
        mdir = f"/sys/module/{module.name}/drivers"
        if nodes.get(mdir) is None:
            nodes.add(Node(mdir, stat.S_IFDIR | 0o755, owner=call.caller))
        link = f"{mdir}/{bus}:{name}"
        nodes.add(Node(link, stat.S_IFLNK | 0o777, owner=call.caller))
        rnode.data["module_link"] = link
    return 0


def unregister(call, bus: str, driver: int) -> None:
    """driver_unregister: its directory and module link go (it has no devices here)."""
    nodes = call.kernel.nodes
    rnode = next((n for n in nodes.children(f"/sys/bus/{bus}/drivers")
                  if n.data.get("driver") == driver), None)
    if rnode is None:
        return
    link = rnode.data.get("module_link")
    if link:
        nodes.remove(link)
        parent = link.rsplit("/", 1)[0]
        if not nodes.children(parent):
            nodes.remove(parent)
    nodes.remove(rnode.path)
