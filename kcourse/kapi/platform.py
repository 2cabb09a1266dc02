"""The platform bus: platform drivers and devices (drivers/base/platform.c), bound as the
driver core does it (drivers/base/driver.c, bus.c, dd.c), on the lab's QEMU machine.

__platform_driver_register sets the driver's owner and bus and registers it
(kcourse.kapi.busdriver: a name the bus already has is "Error: Driver '%s' is already
registered, aborting..." and -EBUSY, the guest having the built-in drivers BOOT_DRIVERS;
else /sys/bus/platform/drivers/<name>/ with bind, uevent, unbind, and `module` for a
module's driver, whose /sys/module/<m>/drivers/ gets platform:<name>), then every device of
the bus it matches is probed (driver_attach).
platform_device_add names the device (`name`, `name.id`, or `name.N.auto` from the platform
ida, whose 0 the guest's alarmtimer.0.auto holds), makes /sys/devices/platform/<dev>/
(driver_override, modalias, subsystem, uevent, driver once bound; the same directory is
/sys/bus/platform/devices/<dev>) and probes it with the first driver that matches.

platform_match: driver_override, then OF (x86 has no device tree: never), ACPI, the
id_table, then the names. really_probe sets dev->driver, calls drv->probe(pdev); a failure
other than -ENODEV/-ENXIO prints "<drv>: probe of <dev> failed with error <n>", and either
way the device's managed resources go (kcourse.kapi.devres) and it stays unbound. A detach
(driver or device unregistered) calls remove_new or remove, then releases the resources.
A driver's devices detach newest first (driver_detach takes the list's last).

Not modelled, each stopping with one line: deferred probing (a probe that returns
-EPROBE_DEFER), platform resources and properties, a driver that would bind one of the
guest's own unbound devices (pcspkr, platform-framebuffer.0, ACPI's PNP0103:00 and
QEMU0002:00: their real hardware), and writing bind, unbind, driver_override or the power/
files (which read as the guest's do for a device without runtime PM). /sys/bus/platform/
drivers and devices list only what modules registered, and appear with the first of them.
"""

from __future__ import annotations

import stat

from kcourse.kapi import busdriver, devres, slab
from kcourse.kapi.dev_printk import c_string
from kcourse.kapi.registry import data, function
from kcourse.kapi.textfile import TextOps
from kcourse.kernel import structs as S
from kcourse.kernel.errno import KernelErrno
from kcourse.kernel.kernel import SimulatorLimit
from kcourse.kernel.nodes import Node

PD = {f: S.offsetof("platform_device", f) for f in (
    "name", "id", "id_auto", "dev", "platform_dma_mask", "dma_parms", "num_resources",
    "driver_override")}
DEV = {f: S.offsetof("device", f) for f in (
    "parent", "bus", "driver", "platform_data", "driver_data", "dma_mask",
    "coherent_dma_mask", "dma_parms", "of_node", "fwnode", "devres_head", "release")}
KOBJ_NAME = S.offsetof("kobject", "name")
PDRV = {f: S.offsetof("platform_driver", f) for f in (
    "probe", "remove", "remove_new", "driver", "id_table")}
DRV = {f: S.offsetof("device_driver", f) for f in (
    "name", "bus", "owner", "of_match_table", "acpi_match_table")}
BUS_NAME = S.offsetof("bus_type", "name")
PDEV_SIZE, BUS_SIZE, DEVICE_SIZE = (S.sizeof("platform_device"), S.sizeof("bus_type"),
                                    S.sizeof("device"))
PLATFORM_NAME_SIZE = 20  # include/linux/mod_devicetable.h: struct platform_device_id
PLATFORM_ID_SIZE = 32  # name[20] and kernel_ulong_t driver_data
ACPI_ID_SIZE = 32  # struct acpi_device_id: id[16], driver_data, cls, cls_msk
# struct platform_device_info (include/linux/platform_device.h), not in structs.json
INFO = {"parent": 0, "fwnode": 8, "of_node_reused": 16, "name": 24, "id": 32, "res": 40,
        "num_res": 48, "data": 56, "size_data": 64, "dma_mask": 72, "properties": 80}
PLATFORM_DEVID_NONE, PLATFORM_DEVID_AUTO = -1, -2
EBUSY, EINVAL, ENODEV, ENXIO, EEXIST, EIO, EACCES, ENOMEM, EPROBE_DEFER = (16, 22, 19, 6, 17,
                                                                    5, 13, 12, 517)
GFP_KERNEL = 0xCC0  # include/linux/gfp_types.h
DMA_BIT_MASK_32 = (1 << 32) - 1
MAX_ERRNO = 4095
DRIVERS, DEVICES = "/sys/bus/platform/drivers", "/sys/devices/platform"
BUS_DEVICES = "/sys/bus/platform/devices"
# The lab's guest (Debian 6.1.0-56-amd64 under QEMU): `ls /sys/bus/platform/drivers`.
BOOT_DRIVERS = frozenset("""acpi-ged alarmtimer amd_gpio axp288_pmic_acpi broxton-pinctrl
    bxt_whiskey_cove_pmic byt_crystal_cove_pmic byt_gpio cannonlake-pinctrl cedarfork-pinctrl
    cherryview-pinctrl cht_crystal_cove_pmic cht_dollar_cove_ti_pmic cht_whiskey_cove_pmic
    clk-fch clk-lpss-atom clk-pmc-atom coreboot_table crystal_cove_pwm denverton-pinctrl
    dw-apb-uart efi-framebuffer geminilake-pinctrl gpio-clk i2c_designware i8042
    icelake-pinctrl lewisburg-pinctrl reg-dummy serial8250 simple-framebuffer
    sunrisepoint-pinctrl syscon tigerlake-pinctrl tpm_tis vesa-framebuffer""".split())
# Its platform devices (`ls /sys/bus/platform/devices`), and those no driver is bound to:
# pdev->name of each (ACPI's carry their ACPI id, modalias acpi:PNP0103: and acpi:QEMU0002:)
BOOT_DEVICES = frozenset("""PNP0103:00 QEMU0002:00 alarmtimer.0.auto i8042 pcspkr
    platform-framebuffer.0 reg-dummy serial8250""".split())
# drivers/base/power/sysfs.c, as the guest shows them for a device without runtime PM
# (its pcspkr's power/): name, mode, text (None: the read fails with -EIO)
POWER = (("async", 0o644, "disabled\n"), ("autosuspend_delay_ms", 0o644, None),
         ("control", 0o644, "auto\n"), ("runtime_active_kids", 0o444, "0\n"),
         ("runtime_active_time", 0o444, "0\n"), ("runtime_enabled", 0o444, "disabled\n"),
         ("runtime_status", 0o444, "unsupported\n"), ("runtime_suspended_time", 0o444, "0\n"),
         ("runtime_usage", 0o444, "0\n"))
UNBOUND_NAMES = frozenset({"pcspkr", "platform-framebuffer"})
UNBOUND_ACPI = frozenset({"PNP0103", "QEMU0002"})


def err_ptr(errno: int) -> int:
    return (1 << 64) - errno


def _is_err_or_null(p: int) -> bool:
    return p == 0 or p >= (1 << 64) - MAX_ERRNO


def _s32(value: int) -> int:
    value &= 0xFFFF_FFFF
    return value - (1 << 32) if value & 0x8000_0000 else value


def _read_id(machine, pdev: int) -> int:
    return _s32(int.from_bytes(machine.space.read(pdev + PD["id"], 4), "little"))


def _string(machine, pointer: int, limit: int = 4096) -> str:
    return machine.space.read_cstring(pointer, limit).decode("utf-8", "surrogateescape")


# ------------------------------------------------------------------ the bus
@data("struct bus_type platform_bus_type", "drivers/base/platform.c", BUS_SIZE)
def platform_bus_type(machine, address):
    name = machine.kernel_string(b"platform\0")
    return name.to_bytes(8, "little") + bytes(BUS_SIZE - 8)


@data("struct device platform_bus", "drivers/base/platform.c", DEVICE_SIZE)
def platform_bus(machine, address):
    out = bytearray(DEVICE_SIZE)
    out[KOBJ_NAME:KOBJ_NAME + 8] = machine.kernel_string(b"platform\0").to_bytes(8, "little")
    head = DEV["devres_head"]
    out[head:head + 16] = ((address + head).to_bytes(8, "little") * 2)
    return bytes(out)


def _tree(call) -> None:
    """/sys/bus/platform/{drivers,devices} and /sys/devices/platform, made on first use
    (they belong to no module, so no unload takes them)."""
    nodes = call.kernel.nodes
    for path in ("/sys/bus", "/sys/bus/platform", DRIVERS, BUS_DEVICES, "/sys/devices",
                 DEVICES):
        if nodes.get(path) is None:
            nodes.add(Node(path, stat.S_IFDIR | 0o755))


def _drivers(call) -> list[Node]:
    """The bus's drivers, in registration order (a stopped load's nodes are gone)."""
    return [n for n in call.kernel.nodes.children(DRIVERS) if n.data.get("kind") == "pdrv"]


def _devices(call) -> list[Node]:
    return [n for n in call.kernel.nodes.children(DEVICES) if n.data.get("kind") == "pdev"]


def _device_node(call, pdev: int) -> Node | None:
    return next((n for n in _devices(call) if n.data["pdev"] == pdev), None)


def _driver_node(call, drv: int) -> Node | None:
    return next((n for n in _drivers(call) if n.data["pdrv"] == drv), None)


# ------------------------------------------------------------------ matching and binding
def _id_names(machine, table: int, size: int, length: int):
    """The names of a NULL-terminated id table (platform_device_id, acpi_device_id)."""
    for i in range(256):
        raw = machine.space.read(table + i * size, length)
        name = raw.split(b"\0", 1)[0]
        if not name:
            return
        yield name.decode("utf-8", "surrogateescape")


def _matches(call, pdrv: int, name: str, override: str | None) -> bool:
    """platform_match for a device named `name` (pdev->name)."""
    machine = call.machine
    drv_name = _string(machine, machine.space.read_u64(pdrv + PDRV["driver"] + DRV["name"]))
    if override is not None:
        return override == drv_name
    table = machine.space.read_u64(pdrv + PDRV["id_table"])
    if table:
        return name in _id_names(machine, table, PLATFORM_ID_SIZE, PLATFORM_NAME_SIZE)
    return name == drv_name


def _refuse_boot_match(call, pdrv: int, drv_name: str) -> None:
    """A driver that matches one of the guest's own unbound devices would probe it."""
    machine = call.machine
    names = {drv_name}
    table = machine.space.read_u64(pdrv + PDRV["id_table"])
    if table:
        names = set(_id_names(machine, table, PLATFORM_ID_SIZE, PLATFORM_NAME_SIZE))
    acpi = machine.space.read_u64(pdrv + PDRV["driver"] + DRV["acpi_match_table"])
    acpi_ids = set(_id_names(machine, acpi, ACPI_ID_SIZE, 16)) if acpi else set()
    hit = (names & UNBOUND_NAMES) or (acpi_ids & UNBOUND_ACPI)
    if hit:
        raise SimulatorLimit(f"kcourse: {call.site}: platform driver {drv_name} would bind "
                             f"the lab machine's own device {sorted(hit)[0]}, whose hardware "
                             "the simulator does not model; run it on the real kernel with "
                             "`kcourse sim --real`")


def _probe(call, dnode: Node, rnode: Node) -> int:
    """really_probe, then driver_bound; the probe's result."""
    machine, space = call.machine, call.machine.space
    pdev, pdrv = dnode.data["pdev"], rnode.data["pdrv"]
    dev = pdev + PD["dev"]
    space.write_u64(dev + DEV["driver"], pdrv + PDRV["driver"])
    _bind_nodes(call, dnode, rnode)
    probe = space.read_u64(pdrv + PDRV["probe"])
    ret = _s32(machine.call(probe, pdev)) if probe else 0
    if ret == 0:
        rnode.data["bound"].append(pdev)
        return 0
    drv_name = rnode.name
    if ret == -EPROBE_DEFER:
        raise SimulatorLimit(f"kcourse: {drv_name}: the probe of {dnode.name} asks to be "
                             "deferred (-EPROBE_DEFER); deferred probing (drivers/base/dd.c) "
                             "is not modelled; run it on the real kernel with "
                             "`kcourse sim --real`")
    if ret not in (-ENODEV, -ENXIO):
        call.kernel.log.printk(f"\0014{drv_name}: probe of {dnode.name} failed with error "
                               f"{ret}\n")
    _unbind_nodes(call, dnode, rnode)
    devres.release_all(machine, dev)
    space.write_u64(dev + DEV["driver"], 0)
    space.write_u64(dev + DEV["driver_data"], 0)
    return ret


def _bind_nodes(call, dnode: Node, rnode: Node) -> None:
    """driver_sysfs_add: <driver>/<device> and <device>/driver links."""
    for base in (dnode.path, f"{BUS_DEVICES}/{dnode.name}"):
        call.kernel.nodes.add(Node(f"{base}/driver", stat.S_IFLNK | 0o777,
                                   owner=dnode.owner))
    call.kernel.nodes.add(Node(f"{rnode.path}/{dnode.name}", stat.S_IFLNK | 0o777,
                               owner=dnode.owner))


def _unbind_nodes(call, dnode: Node, rnode: Node) -> None:
    for path in (f"{dnode.path}/driver", f"{BUS_DEVICES}/{dnode.name}/driver",
                 f"{rnode.path}/{dnode.name}"):
        call.kernel.nodes.remove(path)


def _detach(call, dnode: Node, rnode: Node) -> None:
    """__device_release_driver: the platform remove, then the managed resources."""
    machine, space = call.machine, call.machine.space
    pdev, pdrv = dnode.data["pdev"], rnode.data["pdrv"]
    dev = pdev + PD["dev"]
    remove_new = space.read_u64(pdrv + PDRV["remove_new"])
    remove = space.read_u64(pdrv + PDRV["remove"])
    if remove_new:
        machine.call(remove_new, pdev)
    elif remove and _s32(machine.call(remove, pdev)):
        call.kernel.log.printk(f"\0014{rnode.name} {dnode.name}: remove callback returned a "
                               "non-zero value. This will be ignored.\n")
    devres.release_all(machine, dev)
    space.write_u64(dev + DEV["driver"], 0)
    space.write_u64(dev + DEV["driver_data"], 0)
    _unbind_nodes(call, dnode, rnode)
    if pdev in rnode.data["bound"]:
        rnode.data["bound"].remove(pdev)


def _bound_driver(call, dnode: Node) -> Node | None:
    drv = call.machine.space.read_u64(dnode.data["pdev"] + PD["dev"] + DEV["driver"])
    return next((r for r in _drivers(call) if r.data["pdrv"] + PDRV["driver"] == drv), None)


# ------------------------------------------------------------------ drivers
def _module_of(call, owner: int):
    return next((c.module for c in call.machine.codes if c.this_module == owner), None) \
        if owner else None


@function("int __platform_driver_register(struct platform_driver *drv, struct module *owner)",
          "drivers/base/platform.c")
def __platform_driver_register(call, drv, owner):
    machine, space = call.machine, call.machine.space
    driver = drv + PDRV["driver"]
    space.write_u64(driver + DRV["owner"], owner)
    space.write_u64(driver + DRV["bus"], machine.address_of("platform_bus_type"))
    name = _string(machine, space.read_u64(driver + DRV["name"]))
    if not name:
        return _empty_name(call, driver)
    _refuse_boot_match(call, drv, name)
    _tree(call)
    ret = busdriver.register(call, "platform", driver, BOOT_DRIVERS,
                             ("bind", "uevent", "unbind"))
    if ret:
        return ret
    rnode = call.kernel.nodes.get(f"{DRIVERS}/{name}")
    rnode.data.update(kind="pdrv", pdrv=drv, bound=[])
    for dnode in _devices(call):  # driver_attach: bus_for_each_dev, in the bus's order
        if space.read_u64(dnode.data["pdev"] + PD["dev"] + DEV["driver"]):
            continue
        if _matches(call, drv, dnode.data["name"], _override(call, dnode.data["pdev"])):
            _probe(call, dnode, rnode)
    return 0


def _empty_name(call, kobj: int) -> int:
    """kobject_add_internal refuses an empty name (lib/kobject.c)."""
    from kcourse.kapi import kwarn

    kwarn.warn(call, "lib/kobject.c:210", "kobject_add_internal",
               f"kobject: ({kobj:016x}): attempted to be registered with empty name!")
    return -EINVAL


def _not_modelled(attr: str, whose: str = "driver"):
    def write(text):
        raise SimulatorLimit(f"kcourse: writing a platform {whose}'s {attr} file is not "
                             "modelled; run it on the real kernel with `kcourse sim --real`")
    return write


def _override(call, pdev: int) -> str | None:
    at = call.machine.space.read_u64(pdev + PD["driver_override"])
    return _string(call.machine, at) if at else None


@function("void platform_driver_unregister(struct platform_driver *drv)",
          "drivers/base/platform.c")
def platform_driver_unregister(call, drv):
    """driver_unregister -> bus_remove_driver -> driver_detach (newest first)."""
    rnode = _driver_node(call, drv)
    if rnode is None:
        return
    for pdev in list(reversed(rnode.data["bound"])):
        dnode = _device_node(call, pdev)
        if dnode is not None:
            _detach(call, dnode, rnode)
    busdriver.unregister(call, "platform", drv + PDRV["driver"])


# ------------------------------------------------------------------ devices
def _init_device(machine, pdev: int) -> None:
    """device_initialize's empty devres list; setup_pdev_dma_masks."""
    space, dev = machine.space, pdev + PD["dev"]
    head = dev + DEV["devres_head"]
    space.write_u64(head, head)
    space.write_u64(head + 8, head)
    space.write_u64(dev + DEV["dma_parms"], pdev + PD["dma_parms"])
    if not space.read_u64(dev + DEV["coherent_dma_mask"]):
        space.write_u64(dev + DEV["coherent_dma_mask"], DMA_BIT_MASK_32)
    if not space.read_u64(dev + DEV["dma_mask"]):
        space.write_u64(pdev + PD["platform_dma_mask"], DMA_BIT_MASK_32)
        space.write_u64(dev + DEV["dma_mask"], pdev + PD["platform_dma_mask"])


@function("struct platform_device *platform_device_alloc(const char *name, int id)",
          "drivers/base/platform.c")
def platform_device_alloc(call, name, id):
    """kzalloc(sizeof(struct platform_object) + strlen(name)): the name is copied behind
    the platform_device; release is platform_device_release."""
    machine, space = call.machine, call.machine.space
    text = name or b""
    pdev = machine.kernel_alloc(PDEV_SIZE + len(text) + 1)
    space.write(pdev + PDEV_SIZE, text + b"\0")
    space.write_u64(pdev + PD["name"], pdev + PDEV_SIZE)
    space.write(pdev + PD["id"], (id & 0xFFFF_FFFF).to_bytes(4, "little"))
    _init_device(machine, pdev)
    machine.objects.setdefault("platform_objects", set()).add(pdev)
    return pdev


def _ida(call) -> set[int]:
    return call.machine.objects.setdefault("platform_devid_ida", {0})  # alarmtimer.0.auto


@function("int platform_device_add(struct platform_device *pdev)", "drivers/base/platform.c")
def platform_device_add(call, pdev):
    if not pdev:
        return -EINVAL
    machine, space = call.machine, call.machine.space
    dev = pdev + PD["dev"]
    if not space.read_u64(dev + DEV["parent"]):
        space.write_u64(dev + DEV["parent"], machine.address_of("platform_bus"))
    space.write_u64(dev + DEV["bus"], machine.address_of("platform_bus_type"))
    if int.from_bytes(space.read(pdev + PD["num_resources"], 4), "little"):
        raise SimulatorLimit(f"kcourse: {call.site} adds a platform device with resources "
                             "(insert_resource into iomem/ioport), which the simulator does "
                             "not model; run it on the real kernel with `kcourse sim --real`")
    base = c_string(call, space.read_u64(pdev + PD["name"]))
    ident = _read_id(machine, pdev)
    auto = None
    if ident == PLATFORM_DEVID_NONE:
        name = base
    elif ident == PLATFORM_DEVID_AUTO:
        taken = _ida(call)
        auto = next(i for i in range(len(taken) + 1) if i not in taken)
        taken.add(auto)
        space.write(pdev + PD["id"], auto.to_bytes(4, "little"))
        space.write(pdev + PD["id_auto"], b"\x01")
        name = f"{base}.{auto}.auto"
    else:
        name = f"{base}.{ident}"
    space.write_u64(dev + KOBJ_NAME, machine.kernel_string(name.encode() + b"\0"))
    if not name:
        return _empty_name(call, dev)
    path = f"{DEVICES}/{name}"
    nodes = call.kernel.nodes
    if name in BOOT_DEVICES or nodes.get(path) is not None:
        from kcourse.kapi.device import _duplicate

        _duplicate(call, "/devices/platform", name, ["kobject_add+0x7e/0xb0",
                                                     "device_add+0x13b/0x8d0",
                                                     "platform_device_add+0x10a/0x260"])
        if auto is not None:
            _ida(call).discard(auto)
            space.write(pdev + PD["id"], (PLATFORM_DEVID_AUTO & 0xFFFF_FFFF).to_bytes(4,
                                                                                    "little"))
        return -EEXIST
    if name.split(".")[0] in UNBOUND_NAMES or base in BOOT_DRIVERS:
        raise SimulatorLimit(f"kcourse: {call.site} adds a platform device named {name}, "
                             "which one of the lab machine's own drivers would probe; run it "
                             "on the real kernel with `kcourse sim --real`")
    _tree(call)
    dnode = None
    for where in (path, f"{BUS_DEVICES}/{name}"):
        made = nodes.add(Node(where, stat.S_IFDIR | 0o755, owner=call.caller,
                              data={"kind": "pdev", "pdev": pdev, "name": base,
                                    "auto": auto} if where == path else {}))
        dnode = dnode or made
        _device_files(call, where, pdev, base)
    for rnode in _drivers(call):  # bus_probe_device: the first driver that binds
        if _matches(call, rnode.data["pdrv"], base, _override(call, pdev)) and \
                _probe(call, dnode, rnode) == 0:
            break
    return 0


def _device_files(call, path: str, pdev: int, base: str) -> None:
    nodes, owner = call.kernel.nodes, call.caller

    def uevent() -> str:
        dnode = _device_node(call, pdev)
        rnode = _bound_driver(call, dnode) if dnode is not None else None
        driver = f"DRIVER={rnode.name}\n" if rnode is not None else ""
        return f"{driver}MODALIAS=platform:{base}\n"  # dev_uevent, then platform_uevent

    def override() -> str:
        return f"{_override(call, pdev) or '(null)'}\n"

    for name, mode, ops in (
            ("driver_override", 0o644, TextOps(override, _not_modelled("driver_override", "device"),
                                               kernfs=True)),
            ("modalias", 0o444, TextOps(lambda: f"platform:{base}\n", kernfs=True)),
            ("uevent", 0o644, TextOps(uevent, lambda text: None, kernfs=True))):
        nodes.add(Node(f"{path}/{name}", stat.S_IFREG | mode, owner=owner, size=4096, ops=ops))
    nodes.add(Node(f"{path}/subsystem", stat.S_IFLNK | 0o777, owner=owner))
    nodes.add(Node(f"{path}/power", stat.S_IFDIR | 0o755, owner=owner))
    for name, mode, text in POWER:
        reader = (lambda text=text: text) if text is not None else _eio
        nodes.add(Node(f"{path}/power/{name}", stat.S_IFREG | mode, owner=owner, size=4096,
                       ops=TextOps(reader, _not_modelled(f"power/{name}", "device") if mode & 0o200
                                   else None, kernfs=True)))


def _eio() -> str:
    raise KernelErrno(EIO)  # autosuspend_delay_ms_show without use_autosuspend


@function("void platform_device_del(struct platform_device *pdev)", "drivers/base/platform.c")
def platform_device_del(call, pdev):
    if _is_err_or_null(pdev):
        return
    dnode = _device_node(call, pdev)
    if dnode is None:
        return
    rnode = _bound_driver(call, dnode)
    if rnode is not None:
        _detach(call, dnode, rnode)
    call.kernel.nodes.remove(dnode.path)
    call.kernel.nodes.remove(f"{BUS_DEVICES}/{dnode.name}")
    if dnode.data["auto"] is not None:
        _ida(call).discard(dnode.data["auto"])
        call.machine.space.write(pdev + PD["id"],
                                 (PLATFORM_DEVID_AUTO & 0xFFFF_FFFF).to_bytes(4, "little"))


@function("void platform_device_put(struct platform_device *pdev)", "drivers/base/platform.c")
def platform_device_put(call, pdev):
    """put_device: the last reference (here: a device that is not, or no longer, added)
    calls platform_device_release, which kfrees platform_data and the override; the object
    itself is kernel memory here."""
    if _is_err_or_null(pdev):
        return
    objects = call.machine.objects.setdefault("platform_objects", set())
    if pdev not in objects or _device_node(call, pdev) is not None:
        return
    objects.discard(pdev)
    data_at = pdev + PD["dev"] + DEV["platform_data"]
    data = call.machine.space.read_u64(data_at)
    if data:
        slab.kfree(call, data)
        call.machine.space.write_u64(data_at, 0)


@function("void platform_device_unregister(struct platform_device *pdev)",
          "drivers/base/platform.c")
def platform_device_unregister(call, pdev):
    if not _is_err_or_null(pdev):
        platform_device_del(call, pdev)
        platform_device_put(call, pdev)


@function("int platform_device_register(struct platform_device *pdev)",
          "drivers/base/platform.c")
def platform_device_register(call, pdev):
    """device_initialize, setup_pdev_dma_masks, platform_device_add."""
    _init_device(call.machine, pdev)
    return platform_device_add(call, pdev)


@function("int platform_device_add_data(struct platform_device *pdev, const void *data, "
          "size_t size)", "drivers/base/platform.c")
def platform_device_add_data(call, pdev, data, size):
    """kmemdup of the data into pdev->dev.platform_data (NULL data: nothing), after
    kfree of what was there; -ENOMEM when kmalloc fails."""
    space = call.machine.space
    copy = 0
    if data:
        copy = slab._kmalloc(call, size, GFP_KERNEL)
        if not copy:
            return -ENOMEM
        space.write(copy, space.read(data, size))
    at = pdev + PD["dev"] + DEV["platform_data"]
    old = space.read_u64(at)
    if old:
        slab.kfree(call, old)
    space.write_u64(at, copy)
    return 0


@function("struct platform_device *platform_device_register_full(const struct "
          "platform_device_info *pdevinfo)", "drivers/base/platform.c")
def platform_device_register_full(call, pdevinfo):
    space = call.machine.space
    info = {k: space.read_u64(pdevinfo + v) for k, v in INFO.items()}
    if info["fwnode"] or info["properties"] or (info["num_res"] & 0xFFFF_FFFF):
        raise SimulatorLimit(f"kcourse: {call.site} registers a platform device with a "
                             "firmware node, properties or resources, which the simulator "
                             "does not model; run it on the real kernel with "
                             "`kcourse sim --real`")
    name = space.read_cstring(info["name"]) if info["name"] else b""
    pdev = platform_device_alloc(call, name, _s32(info["id"]))
    dev = pdev + PD["dev"]
    space.write_u64(dev + DEV["parent"], info["parent"])
    if info["dma_mask"]:
        space.write_u64(pdev + PD["platform_dma_mask"], info["dma_mask"])
        space.write_u64(dev + DEV["dma_mask"], pdev + PD["platform_dma_mask"])
        space.write_u64(dev + DEV["coherent_dma_mask"], info["dma_mask"])
    ret = platform_device_add_data(call, pdev, info["data"], info["size_data"]) or \
        platform_device_add(call, pdev)
    if ret:
        platform_device_put(call, pdev)
        return err_ptr(-ret)
    return pdev
