"""Device classes and devices: class_create (the __class_create the 6.1 macro calls),
class_destroy, device_create, device_destroy (drivers/base/class.c, core.c).

__class_create registers /sys/class/<name>: a name taken (by the kernel's own classes on
the lab's guest, or another module's) is kernfs's duplicate: sysfs_warn_dup's line and
dump_stack, kobject_add_internal's -EEXIST line, and ERR_PTR(-EEXIST). The struct class is
kzalloc'd with name and owner set; cls->name points at the module's string, as in C.

device_create formats the name (vsnprintf of fmt and the arguments) into a struct device it
allocates (devt, class, parent, driver_data set), then device_add: /sys/class/<class>/<name>
with the `dev` ("MAJOR:MINOR", print_dev_t) and `uevent` (MAJOR, MINOR, DEVNAME: dev_uevent)
attributes, and, for a device number, devtmpfs's node /dev/<name> (mode 0600 unless the
class's devnode() says otherwise), opened through chrdev_open (kcourse.kapi.cdev). A name
already in the class is -EEXIST the same way. device_destroy finds the device by number in
its class and removes both.
"""

from __future__ import annotations

import stat

from kcourse.kapi import printk
from kcourse.kapi.cdev import ChrdevOps
from kcourse.kapi.kwarn import dump_stack
from kcourse.kapi.registry import function
from kcourse.kapi.textfile import TextOps
from kcourse.kapi.vfsfile import limit
from kcourse.kernel import chrdevs as D
from kcourse.kernel import structs as S
from kcourse.kernel.nodes import Node

CLASS_SIZE, DEVICE_SIZE = S.sizeof("class"), S.sizeof("device")
CLS = {f: S.offsetof("class", f) for f in ("name", "owner", "devnode", "class_groups")}
CLASS_ATTR = {f: S.offsetof("class_attribute", f) for f in ("show", "store")}
DEV = {f: S.offsetof("device", f) for f in ("parent", "driver_data", "devt", "class")}
KOBJ_NAME = S.offsetof("kobject", "name")
EEXIST, ENODEV, EIO = 17, 19, 5
MAX_ERRNO = 4095
# /sys/class on the lab's guest (Debian 6.1.0-56-amd64 under QEMU): names taken at boot.
BOOT_CLASSES = frozenset("""backlight bdi block bsg devcoredump devfreq devlink dma dmi
    firmware gpio graphics hwmon i2c-adapter input intel_scu_ipc iommu leds mem misc net
    pci_bus phy power_supply powercap pps ptp pwm regulator rtc spi_master spidev thermal tpm
    tpmrm tty vc vtconsole wakeup""".split())
SYS_CLASS = "/sys/class"


def err_ptr(errno: int) -> int:
    return (1 << 64) - errno


def is_err_or_null(p: int) -> bool:
    return p == 0 or p >= (1 << 64) - MAX_ERRNO


def _classes(machine) -> dict[int, str]:
    return machine.objects.setdefault("classes", {})  # struct class address -> /sys path


def _class_node(call, cls: int) -> Node | None:
    path = _classes(call.machine).get(cls)
    node = call.kernel.nodes.get(path) if path else None
    return node if node is not None and node.data.get("class") == cls else None


def _duplicate(call, parent: str, name: str, inner: list[str]) -> int:
    """kernfs refused a name: sysfs_warn_dup + dump_stack, kobject_add_internal's line."""
    log = call.kernel.log
    log.printk(f"\0014sysfs: cannot create duplicate filename '{parent}/{name}'\n")
    dump_stack(call, ["sysfs_warn_dup.cold+0x17/0x24", "sysfs_create_dir_ns+0xcd/0xe0",
                      "kobject_add_internal+0xb1/0x2b0", *inner])
    log.printk(f"\0013kobject_add_internal failed for {name} with -EEXIST, don't try to "
               "register things with the same name in the same directory.\n")
    return err_ptr(EEXIST)


def _register(call, cls: int, inner: list[str]) -> int:
    """__class_register: /sys/class/<cls->name> and the class_groups' files; 0 or -errno."""
    machine = call.machine
    name_at = machine.space.read_u64(cls + CLS["name"])
    text = machine.space.read_cstring(name_at).decode("utf-8", "surrogateescape")
    path = f"{SYS_CLASS}/{text}"
    if text in BOOT_CLASSES or call.kernel.nodes.get(path) is not None:
        _duplicate(call, "/class", text, ["kset_register+0x2c/0x60",
                                          "__class_register+0x9a/0x180", *inner])
        return -EEXIST
    call.kernel.nodes.add(Node(path, stat.S_IFDIR | 0o755, owner=call.caller,
                               data={"kind": "class", "class": cls, "kobj": cls}))
    _classes(machine)[cls] = path
    from kcourse.kapi import sysfs

    sysfs.stand_in(call, cls, path, class_sysfs_ops(machine))
    error = sysfs.create_groups(call, cls, machine.space.read_u64(cls + CLS["class_groups"]))
    if error:
        call.kernel.nodes.remove(path)
    return error


def class_sysfs_ops(machine) -> int:
    """class_sysfs_ops (drivers/base/class.c): show/store through the class_attribute."""
    from kcourse.kapi import sysfs

    return sysfs.ops_table(machine, "class_attr_show", "class_attr_store")


@function("ssize_t class_attr_show(struct kobject *kobj, struct attribute *attr, char *buf)",
          "drivers/base/class.c")
def class_attr_show(call, kobj, attr, buf):
    """Here the class stands for its subsys kobject: to_subsys_private(kobj)->class."""
    show = call.machine.space.read_u64(attr + CLASS_ATTR["show"])
    return call.machine.call(show, kobj, attr, buf) if show else -EIO


@function("ssize_t class_attr_store(struct kobject *kobj, struct attribute *attr, "
          "const char *buf, size_t count)", "drivers/base/class.c")
def class_attr_store(call, kobj, attr, buf, count):
    store = call.machine.space.read_u64(attr + CLASS_ATTR["store"])
    return call.machine.call(store, kobj, attr, call.raw(2), count) if store else -EIO


@function("int __class_register(struct class *cls, struct lock_class_key *key)",
          "drivers/base/class.c")
def __class_register(call, cls, key):
    return _register(call, cls, [])


@function("struct class *__class_create(struct module *owner, const char *name, "
          "struct lock_class_key *key)", "drivers/base/class.c")
def __class_create(call, owner, name, key):
    machine = call.machine
    cls = machine.kernel_alloc(CLASS_SIZE)  # kzalloc; cls->name is the caller's string
    machine.space.write_u64(cls + CLS["name"], call.raw(1))
    machine.space.write_u64(cls + CLS["owner"], owner)
    error = _register(call, cls, ["__class_create+0x46/0x80"])
    return err_ptr(-error) if error else cls


def _unregister(call, cls: int) -> None:
    node = _class_node(call, cls)
    if node is not None:
        for gone in call.kernel.nodes.remove(node.path):
            gone.data["removed"] = True
            if gone.data.get("kind") == "device":
                _drop_devnode(call, gone)


@function("void class_unregister(struct class *cls)", "drivers/base/class.c")
def class_unregister(call, cls):
    _unregister(call, cls)


@function("void class_destroy(struct class *cls)", "drivers/base/class.c")
def class_destroy(call, cls):
    if not is_err_or_null(cls):
        _unregister(call, cls)


def _devnode(call, cls: int, dev: int, name: str) -> tuple[str, int]:
    """device_get_devnode: the class's devnode() may rename the node and set its mode."""
    fn = call.machine.space.read_u64(cls + CLS["devnode"])
    if not fn:
        return name, 0
    machine = call.machine
    mode_at = machine.kernel_alloc(8)
    got = machine.call(fn, dev, mode_at)
    mode = int.from_bytes(machine.space.read(mode_at, 2), "little")
    if got:
        name = machine.space.read_cstring(got).decode("utf-8", "surrogateescape")
    return name, mode


@function("struct device *device_create(struct class *class, struct device *parent, "
          "dev_t devt, void *drvdata, const char *fmt, ...)", "drivers/base/core.c")
def device_create(call, cls, parent, devt, drvdata, fmt):
    if is_err_or_null(cls):
        return err_ptr(ENODEV)
    node = _class_node(call, cls)
    if node is None:
        raise limit(f"kcourse: {call.site} passes {cls:#x} as a struct class, which is no "
                    "class the simulator made")
    machine = call.machine
    name = bytes(printk.format_call(call, fmt, 1024)).decode("utf-8", "surrogateescape")
    path = f"{node.path}/{name}"
    if call.kernel.nodes.get(path) is not None:
        return _duplicate(call, f"/devices/virtual/{node.name}", name,
                          ["kobject_add+0x7e/0xb0", "device_add+0x13b/0x8d0",
                           "device_create_groups_vargs+0xd2/0xf0", "device_create+0x4d/0x70"])
    dev = machine.kernel_alloc(DEVICE_SIZE)
    space = machine.space
    space.write_u64(dev + KOBJ_NAME, machine.kernel_string(name.encode() + b"\0"))
    space.write(dev + DEV["devt"], devt.to_bytes(4, "little"))
    space.write_u64(dev + DEV["class"], cls)
    space.write_u64(dev + DEV["parent"], parent)
    space.write_u64(dev + DEV["driver_data"], drvdata)
    major, minor = D.major_of(devt), D.minor_of(devt)
    devname, mode = _devnode(call, cls, dev, name) if major else (name, 0)
    kernel = call.kernel
    dnode = kernel.nodes.add(Node(path, stat.S_IFDIR | 0o755, owner=call.caller,
                                  data={"kind": "device", "device": dev, "devt": devt}))
    kernel.nodes.add(Node(f"{path}/dev", stat.S_IFREG | 0o444, owner=call.caller, size=4096,
                          ops=TextOps(lambda: f"{major}:{minor}\n", kernfs=True)))
    uevent = f"MAJOR={major}\nMINOR={minor}\nDEVNAME={devname}\n" if major else ""
    kernel.nodes.add(Node(f"{path}/uevent", stat.S_IFREG | 0o644, owner=call.caller,
                          size=4096, ops=TextOps(lambda: uevent, lambda text: None,
                                                 kernfs=True)))
    devpath = f"/dev/{devname}"
    if major and kernel.nodes.get(devpath) is None and devname not in kernel.devices:
        kernel.nodes.add(Node(devpath, stat.S_IFCHR | (mode or 0o600), owner=call.caller,
                              ops=ChrdevOps(machine), rdev=devt))
        dnode.data["devnode"] = devpath
    return dev


def _drop_devnode(call, device_node: Node) -> None:
    devpath = device_node.data.get("devnode")
    if devpath:
        call.kernel.nodes.remove(devpath)


@function("void device_destroy(struct class *class, dev_t devt)", "drivers/base/core.c")
def device_destroy(call, cls, devt):
    node = _class_node(call, cls) if not is_err_or_null(cls) else None
    if node is None:
        return
    for child in call.kernel.nodes.children(node.path):
        if child.data.get("kind") == "device" and child.data["devt"] == devt:
            _drop_devnode(call, child)
            call.kernel.nodes.remove(child.path)
            return
