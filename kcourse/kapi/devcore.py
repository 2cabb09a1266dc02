"""A struct device the module embeds in its own struct: dev_set_name, device_register,
device_unregister, get_device, put_device (drivers/base/core.c, 6.1).

device_initialize sets the kobject's kref to 1 (in the struct, as lib/kobject.c keeps it).
device_add names the device (init_name first, then the kobject's name; none is -EINVAL,
core.c:3611), takes a reference on the parent and places it where get_device_parent puts a
class device (core.c:3020-3080): under /devices/virtual/<class>/ without a parent, directly
under a parent that is itself a class device, in a "<class>" glue directory under any other
parent. As for device_create (kcourse.kapi.device), the directory is kept at
/sys/class/<class>/<name> with `dev` and `uevent`, and a device number gets devtmpfs's
/dev/<name>. device_del removes them and drops the parent's reference; the last put_device
calls dev->release, else the type's, else the class's dev_release, else WARNs
(device_release, core.c:2485-2512).

Not modelled, and said so in one line when used: devices on a bus (bus_add_device), and
attribute groups on the device (dev->groups, class->dev_groups, type->groups).
"""

from __future__ import annotations

import stat
from dataclasses import dataclass

from kcourse.kapi import printk
from kcourse.kapi.cdev import ChrdevOps
from kcourse.kapi.device import SYS_CLASS, _devnode, _duplicate
from kcourse.kapi.registry import function
from kcourse.kapi.textfile import TextOps
from kcourse.kapi.vfsfile import limit
from kcourse.kernel import chrdevs as D
from kcourse.kernel import structs as S
from kcourse.kernel.nodes import Node

DEV = {f: S.offsetof("device", f) for f in ("parent", "init_name", "type", "bus", "devt",
                                              "class", "groups", "release")}
KOBJ_NAME = S.offsetof("device", "kobj") + S.offsetof("kobject", "name")
KREF = S.offsetof("device", "kobj") + S.offsetof("kobject", "kref")
CLS = {f: S.offsetof("class", f) for f in ("name", "dev_groups", "dev_release")}
TYPE_GROUPS, TYPE_RELEASE = 8, 32  # struct device_type (include/linux/device.h, 6.1)
EINVAL = 22


@dataclass
class Added:
    """A device device_add placed: its kobject path and its /sys/class directory."""

    path: str  # kobject_get_path: /devices/virtual/vinput/vinput0
    node: str  # /sys/class/vinput/vinput0
    parent: int


def added(machine) -> dict[int, Added]:
    return machine.objects.setdefault("devcore", {})


def kernel_types(machine) -> dict:
    """The kernel's own device types and classes (the input core's input_dev_type and
    input_class, kcourse.kapi.input): type address -> its release (Python), ("class",
    address) -> the class's name."""
    return machine.objects.setdefault("devcore_types", {})


def _u64(call, address: int) -> int:
    return call.machine.space.read_u64(address)


def _text(call, pointer: int) -> str:
    return call.machine.space.read_cstring(pointer).decode("utf-8", "surrogateescape")


def name_of(call, dev: int) -> str | None:
    at = _u64(call, dev + KOBJ_NAME)
    return _text(call, at) if at else None


def set_name(call, dev: int, name: str) -> None:
    """kobject_set_name: the name in kernel memory, at dev->kobj.name."""
    call.machine.space.write_u64(dev + KOBJ_NAME,
                                 call.machine.kernel_string(name.encode() + b"\0"))


def kref(call, dev: int, delta: int = 0) -> int:
    space = call.machine.space
    count = int.from_bytes(space.read(dev + KREF, 4), "little") + delta
    space.write(dev + KREF, (count & 0xFFFF_FFFF).to_bytes(4, "little"))
    return count


def initialize(call, dev: int) -> None:
    """device_initialize: the kobject's kref at 1 (kobject_init)."""
    call.machine.space.write(dev + KREF, (1).to_bytes(4, "little"))


def kobject_path(call, dev: int) -> str:
    """The sysfs path of a device that is in sysfs (one device_add or device_create made)."""
    got = added(call.machine).get(dev)
    if got is not None:
        return got.path
    for node in call.kernel.nodes:
        if node.data.get("kind") == "device" and node.data.get("device") == dev:
            # device_create without a parent: a virtual class device
            if not _u64(call, dev + DEV["parent"]):
                return "/devices/virtual/" + node.path.removeprefix(SYS_CLASS + "/")
    raise limit(f"kcourse: {call.site} uses the device at {dev:#x} as a parent, which is "
                "no device the simulator placed in sysfs")


def _class_dir(call, cls: int) -> str:
    """/sys/class/<name>: the module's class (registered), or one of the kernel's own."""
    from kcourse.kapi.device import _class_node

    node = _class_node(call, cls)
    if node is not None:
        return node.path
    kernel_class = kernel_types(call.machine).get(("class", cls))
    if kernel_class is None:
        raise limit(f"kcourse: {call.site} adds a device of the class at {cls:#x}, which is "
                    "no class the simulator made")
    return f"{SYS_CLASS}/{kernel_class}"  # a directory of the fixed tree (kcourse.kernel.vfs)


def add(call, dev: int, uevent=None, files: dict | None = None) -> int:
    """device_add: 0 or -errno. `uevent` and `files` are a kernel type's (Python)."""
    space, machine = call.machine.space, call.machine
    kref(call, dev, +1)  # get_device(dev)
    init_name = _u64(call, dev + DEV["init_name"])
    if init_name:
        set_name(call, dev, _text(call, init_name))
        space.write_u64(dev + DEV["init_name"], 0)
    name = name_of(call, dev)
    if not name:
        put(call, dev)
        return -EINVAL
    cls, bus = _u64(call, dev + DEV["class"]), _u64(call, dev + DEV["bus"])
    dev_type = _u64(call, dev + DEV["type"])
    if bus or not cls:
        raise limit(f"kcourse: {call.site} adds a device on a bus or without a class, which "
                    "the simulator does not model (only class devices)")
    groups = [_u64(call, dev + DEV["groups"]), _u64(call, cls + CLS["dev_groups"])]
    if dev_type and dev_type not in kernel_types(machine):
        groups.append(_u64(call, dev_type + TYPE_GROUPS))
    if any(groups):
        raise limit(f"kcourse: {call.site} adds a device with attribute groups, which the "
                    "simulator does not model")
    class_dir = _class_dir(call, cls)
    class_name = class_dir.rsplit("/", 1)[1]
    parent = _u64(call, dev + DEV["parent"])
    if not parent:
        path = f"/devices/virtual/{class_name}/{name}"
    elif _u64(call, parent + DEV["class"]):
        path = f"{kobject_path(call, parent)}/{name}"
    else:
        path = f"{kobject_path(call, parent)}/{class_name}/{name}"
    node_path = f"{class_dir}/{name}"
    if call.kernel.nodes.get(node_path) is not None:
        put(call, dev)
        _duplicate(call, path.rsplit("/", 1)[0], name,
                   ["kobject_add+0x7e/0xb0", "device_add+0x13b/0x8d0"])
        return -17  # -EEXIST
    if parent:
        kref(call, parent, +1)  # get_device(parent)
    devt = int.from_bytes(space.read(dev + DEV["devt"], 4), "little")
    major, minor = D.major_of(devt), D.minor_of(devt)
    kernel = call.kernel
    dnode = kernel.nodes.add(Node(node_path, stat.S_IFDIR | 0o755, owner=call.caller,
                                  data={"kind": "device", "device": dev, "devt": devt}))
    if major:
        kernel.nodes.add(Node(f"{node_path}/dev", stat.S_IFREG | 0o444, owner=call.caller,
                              size=4096, ops=TextOps(lambda: f"{major}:{minor}\n",
                                                     kernfs=True)))
    devname, mode = _devnode(call, cls, dev, name) if major else (name, 0)
    text = uevent or (lambda: f"MAJOR={major}\nMINOR={minor}\nDEVNAME={devname}\n"
                      if major else "")
    kernel.nodes.add(Node(f"{node_path}/uevent", stat.S_IFREG | 0o644, owner=call.caller,
                          size=4096, ops=TextOps(text, lambda _text: None, kernfs=True)))
    for file, reader in (files or {}).items():
        kernel.nodes.add(Node(f"{node_path}/{file}", stat.S_IFREG | 0o444, owner=call.caller,
                              size=4096, ops=TextOps(reader, kernfs=True)))
    devpath = f"/dev/{devname}"
    if major and kernel.nodes.get(devpath) is None and devname not in kernel.devices:
        kernel.nodes.add(Node(devpath, stat.S_IFCHR | (mode or 0o600), owner=call.caller,
                              ops=ChrdevOps(machine), rdev=devt))
        dnode.data["devnode"] = devpath
    added(machine)[dev] = Added(path, node_path, parent)
    return 0


def delete(call, dev: int) -> None:
    """device_del: out of sysfs and devtmpfs; the parent's reference goes (core.c:3926)."""
    got = added(call.machine).pop(dev, None)
    if got is None:
        return
    for gone in call.kernel.nodes.remove(got.node):
        devpath = gone.data.get("devnode")
        if devpath:
            call.kernel.nodes.remove(devpath)
    if got.parent:
        put(call, got.parent)


def put(call, dev: int) -> None:
    """put_device: the last reference calls device_release."""
    if not dev:
        return
    count = kref(call, dev, -1)
    if count < 0:
        kref(call, dev, +1)
        raise limit(f"kcourse: {call.site} puts the device at {dev:#x}, whose reference "
                    "count is already 0 (a second free: the real kernel WARNs \"refcount_t: "
                    "underflow; use-after-free.\"), which the simulator does not model")
    if count:
        return
    machine = call.machine
    dev_type, cls = _u64(call, dev + DEV["type"]), _u64(call, dev + DEV["class"])
    release = _u64(call, dev + DEV["release"])
    if release:
        machine.call(release, dev)
    elif dev_type in kernel_types(machine):
        kernel_types(machine)[dev_type](call, dev)
    elif dev_type and _u64(call, dev_type + TYPE_RELEASE):
        machine.call(_u64(call, dev_type + TYPE_RELEASE), dev)
    elif cls and _u64(call, cls + CLS["dev_release"]):
        machine.call(_u64(call, cls + CLS["dev_release"]), dev)
    else:
        from kcourse.kapi import kwarn

        kwarn.warn(call, "drivers/base/core.c:2510", "device_release",
                   f"Device '{name_of(call, dev)}' does not have a release() function, it "
                   "is broken and must be fixed. See Documentation/core-api/kobject.rst.",
                   ["kobject_put+0xa4/0x1d0"])


@function("int dev_set_name(struct device *dev, const char *fmt, ...)", "drivers/base/core.c")
def dev_set_name(call, dev, fmt):
    name = bytes(printk.format_call(call, fmt, 1024)).decode("utf-8", "surrogateescape")
    set_name(call, dev, name)
    return 0


@function("void device_initialize(struct device *dev)", "drivers/base/core.c")
def device_initialize(call, dev):
    initialize(call, dev)


@function("int device_add(struct device *dev)", "drivers/base/core.c")
def device_add(call, dev):
    return add(call, dev)


@function("int device_register(struct device *dev)", "drivers/base/core.c")
def device_register(call, dev):
    initialize(call, dev)
    return add(call, dev)


@function("struct device *get_device(struct device *dev)", "drivers/base/core.c")
def get_device(call, dev):
    if dev:
        kref(call, dev, +1)
    return dev


@function("void put_device(struct device *dev)", "drivers/base/core.c")
def put_device(call, dev):
    put(call, dev)


@function("void device_del(struct device *dev)", "drivers/base/core.c")
def device_del(call, dev):
    delete(call, dev)


@function("void device_unregister(struct device *dev)", "drivers/base/core.c")
def device_unregister(call, dev):
    delete(call, dev)
    put(call, dev)
