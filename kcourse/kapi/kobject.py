"""kobjects: lib/kobject.c (6.1), and their directories in sysfs (fs/sysfs/dir.c).

A kobject is the module's struct (kobject_init_and_add) or the kernel's (kobject_create_and_add:
dynamic_kobj_ktype, whose sysfs_ops is kobj_sysfs_ops: kobj_attr_show/store call the
kobj_attribute's show/store). kobject_add names it and makes its directory under the parent's
(kernel_kobj: /sys/kernel; NULL: /sys), with the ktype's default_groups (kcourse.kapi.sysfs);
a name taken is kernfs's duplicate (sysfs_warn_dup, dump_stack, kobject_add_internal's
-EEXIST line). The kref and state bits live in the struct, so kobject_get/kobject_put count
as the kernel does: the last put removes the directory if it is still there
(kobject_cleanup) and calls the ktype's release.
"""

from __future__ import annotations

import stat

from kcourse.kapi import kwarn, printk
from kcourse.kapi.device import _duplicate
from kcourse.kapi.registry import data, function
from kcourse.kapi.vfsfile import kernel_block, limit
from kcourse.kernel import structs as S
from kcourse.kernel.nodes import Node

KOBJ = {f: S.offsetof("kobject", f) for f in ("name", "parent", "ktype", "kref")}
STATE = S.offsetof("kobject", "state_initialized")  # the bit fields' 32-bit word
INITIALIZED, IN_SYSFS = 1, 2  # state_initialized, state_in_sysfs (bits 0 and 1)
KTYPE = {f: S.offsetof("kobj_type", f) for f in ("release", "sysfs_ops", "default_groups")}
KATTR_SHOW, KATTR_STORE = S.offsetof("kobj_attribute", "show"), \
    S.offsetof("kobj_attribute", "store")
EINVAL, EIO, EEXIST = 22, 5, 17
# the top of /sys on the lab's guest: kobjects made at boot with a NULL parent
BOOT_SYS = frozenset("block bus class dev devices firmware fs hypervisor kernel module "
                     "power".split())


def _u64(call, address: int) -> int:
    return call.machine.space.read_u64(address)


def _paths(machine) -> dict[int, str]:
    return machine.objects.setdefault("kobject_paths", {})  # struct kobject -> its directory


def _name(call, kobj: int) -> str:
    at = _u64(call, kobj + KOBJ["name"])
    return call.machine.space.read_cstring(at).decode("utf-8", "surrogateescape") if at else ""


def _state(call, kobj: int) -> int:
    return int.from_bytes(call.machine.space.read(kobj + STATE, 4), "little")


def _set_state(call, kobj: int, value: int) -> None:
    call.machine.space.write(kobj + STATE, value.to_bytes(4, "little"))


def _kref(call, kobj: int, delta: int = 0) -> int:
    space = call.machine.space
    count = int.from_bytes(space.read(kobj + KOBJ["kref"], 4), "little") + delta
    space.write(kobj + KOBJ["kref"], (count & 0xFFFFFFFF).to_bytes(4, "little"))
    return count


def directory(call, kobj: int) -> str | None:
    """The sysfs directory of a kobject (kobj->sd): the kernel's own (kernel_kobj), or one a
    module added that is still there; None otherwise."""
    path = _paths(call.machine).get(kobj)
    if path and kobj in call.machine.objects.get("kernel_kobjects", ()):
        return path
    node = call.kernel.nodes.get(path) if path else None
    return path if node is not None and node.data.get("kobj") == kobj else None


# ---------------------------------------------------------------- the kernel's kobjects
def _kernel_kobject(machine, name: bytes, path: str) -> int:
    kobj = machine.kernel_alloc(S.sizeof("kobject"))
    machine.space.write_u64(kobj + KOBJ["name"], machine.kernel_string(name + b"\0"))
    machine.space.write_u64(kobj + KOBJ["ktype"], dynamic_ktype(machine))
    machine.space.write(kobj + KOBJ["kref"], (1).to_bytes(4, "little"))
    machine.space.write(kobj + STATE, (INITIALIZED | IN_SYSFS).to_bytes(4, "little"))
    _paths(machine)[kobj] = path
    machine.objects.setdefault("kernel_kobjects", set()).add(kobj)
    return kobj


@data("struct kobject *kernel_kobj", "kernel/ksysfs.c", 8)
def kernel_kobj(machine, address):
    return _kernel_kobject(machine, b"kernel", "/sys/kernel").to_bytes(8, "little")


@data("const struct sysfs_ops kobj_sysfs_ops", "lib/kobject.c", 16)
def kobj_sysfs_ops(machine, address):
    return b"".join(machine.address_of(f).to_bytes(8, "little")
                    for f in ("kobj_attr_show", "kobj_attr_store"))


def dynamic_ktype(machine) -> int:
    """dynamic_kobj_ktype: release = dynamic_kobj_release, sysfs_ops = &kobj_sysfs_ops."""
    ktype = machine.objects.get("dynamic_kobj_ktype")
    if ktype is None:
        ktype = machine.kernel_alloc(S.sizeof("kobj_type"))
        machine.space.write_u64(ktype + KTYPE["release"], machine.address_of(
            "dynamic_kobj_release"))
        machine.space.write_u64(ktype + KTYPE["sysfs_ops"], machine.address_of("kobj_sysfs_ops"))
        machine.objects["dynamic_kobj_ktype"] = ktype
    return ktype


@function("ssize_t kobj_attr_show(struct kobject *kobj, struct attribute *attr, char *buf)",
          "lib/kobject.c")
def kobj_attr_show(call, kobj, attr, buf):
    show = _u64(call, attr + KATTR_SHOW)  # container_of(attr, struct kobj_attribute, attr)
    return call.machine.call(show, kobj, attr, buf) if show else -EIO


@function("ssize_t kobj_attr_store(struct kobject *kobj, struct attribute *attr, "
          "const char *buf, size_t count)", "lib/kobject.c")
def kobj_attr_store(call, kobj, attr, buf, count):
    store = _u64(call, attr + KATTR_STORE)
    return call.machine.call(store, kobj, attr, call.raw(2), count) if store else -EIO


@function("void dynamic_kobj_release(struct kobject *kobj)", "lib/kobject.c")
def dynamic_kobj_release(call, kobj):
    return None  # kfree(container_of(kobj, struct kobj_attribute...)): kernel memory


# ---------------------------------------------------------------- kobjects
def _add(call, kobj: int, parent: int, name: str) -> int:
    """kobject_add_varg + kobject_add_internal + create_dir: 0 or -errno."""
    space = call.machine.space
    if not name:
        kwarn.warn(call, "lib/kobject.c:210", "kobject_add_internal",
                   f"kobject: ({kobj:016x}): attempted to be registered with empty name!")
        return -EINVAL
    space.write_u64(kobj + KOBJ["name"], call.machine.kernel_string(name.encode() + b"\0"))
    space.write_u64(kobj + KOBJ["parent"], parent)
    if parent:
        base_path = directory(call, parent)
        if base_path is None:
            raise limit(f"kcourse: {call.site} adds a kobject under {parent:#x}, which is no "
                        "kobject the simulator made")
    else:
        base_path = "/sys"
    path = f"{base_path}/{name}"
    taken = call.kernel.nodes.get(path) is not None or (base_path == "/sys" and name in
                                                         BOOT_SYS)
    if taken:
        _duplicate(call, base_path[len("/sys"):] or "/", name, ["kobject_add+0x7e/0xb0"])
        space.write_u64(kobj + KOBJ["parent"], 0)
        return -EEXIST
    if parent:
        _kref(call, parent, +1)  # kobject_get(kobj->parent)
    call.kernel.nodes.add(Node(path, stat.S_IFDIR | 0o755, owner=call.caller,
                               data={"kind": "kobject", "kobj": kobj}))
    _paths(call.machine)[kobj] = path
    _set_state(call, kobj, _state(call, kobj) | IN_SYSFS)
    from kcourse.kapi import sysfs

    groups = _u64(call, _u64(call, kobj + KOBJ["ktype"]) + KTYPE["default_groups"])
    error = sysfs.create_groups(call, kobj, groups)
    if error:
        _del(call, kobj)
    return error


def _init(call, kobj: int, ktype: int) -> None:
    if _state(call, kobj) & INITIALIZED:
        call.kernel.log.printk(f"\0013kobject ({printk_pointer(call, kobj)}): tried to init an "
                               "initialized object, something is seriously wrong.\n")
        kwarn.dump_stack(call, ["kobject_init+0x7c/0x90"])
    space = call.machine.space
    space.write(kobj + KOBJ["kref"], (1).to_bytes(4, "little"))
    space.write_u64(kobj + 8, kobj + 8)  # INIT_LIST_HEAD(&kobj->entry)
    space.write_u64(kobj + 16, kobj + 8)
    _set_state(call, kobj, INITIALIZED)
    space.write_u64(kobj + KOBJ["ktype"], ktype)


def printk_pointer(call, address: int) -> str:
    """%p: the hashed form the kernel prints (lib/vsprintf.c ptr_to_id)."""
    from kcourse.kapi.siphash import ptr_hash

    return f"{ptr_hash(address, call.kernel.seed):016x}"


@function("struct kobject *kobject_create_and_add(const char *name, struct kobject *parent)",
          "lib/kobject.c")
def kobject_create_and_add(call, name, parent):
    kobj = kernel_block(call.machine, S.sizeof("kobject"))  # kobject_create: kzalloc
    _init(call, kobj, dynamic_ktype(call.machine))
    retval = _add(call, kobj, parent, (name or b"").decode("utf-8", "surrogateescape"))
    if retval:
        call.kernel.log.printk(f"\0014kobject_create_and_add: kobject_add error: {retval}\n")
        _put(call, kobj)
        return 0
    return kobj


@function("void kobject_init(struct kobject *kobj, const struct kobj_type *ktype)",
          "lib/kobject.c")
def kobject_init(call, kobj, ktype):
    _init(call, kobj, ktype)


@function("int kobject_add(struct kobject *kobj, struct kobject *parent, const char *fmt, ...)",
          "lib/kobject.c")
def kobject_add(call, kobj, parent, fmt):
    if not kobj:
        return -EINVAL
    name = bytes(printk.format_call(call, fmt, 1024)).decode("utf-8", "surrogateescape")
    return _add(call, kobj, parent, name)


@function("int kobject_init_and_add(struct kobject *kobj, const struct kobj_type *ktype, "
          "struct kobject *parent, const char *fmt, ...)", "lib/kobject.c")
def kobject_init_and_add(call, kobj, ktype, parent, fmt):
    _init(call, kobj, ktype)
    name = bytes(printk.format_call(call, fmt, 1024)).decode("utf-8", "surrogateescape")
    return _add(call, kobj, parent, name)


@function("struct kobject *kobject_get(struct kobject *kobj)", "lib/kobject.c")
def kobject_get(call, kobj):
    if kobj and kobj not in call.machine.objects.get("kernel_kobjects", ()):
        _kref(call, kobj, +1)
    return kobj


def _del(call, kobj: int) -> None:
    """__kobject_del: the default groups, the directory and what is in it; the parent's
    reference goes (kobject_put(parent) is the caller's)."""
    path = directory(call, kobj)
    if path is not None and kobj not in call.machine.objects.get("kernel_kobjects", ()):
        for node in call.kernel.nodes.remove(path):
            node.data["removed"] = True
    _set_state(call, kobj, _state(call, kobj) & ~IN_SYSFS)


def _put(call, kobj: int) -> None:
    if not kobj or kobj in call.machine.objects.get("kernel_kobjects", ()):
        return
    if not _state(call, kobj) & INITIALIZED:
        kwarn.warn(call, "lib/kobject.c:726", "kobject_put",
                   f"kobject: '{_name(call, kobj)}' ({printk_pointer(call, kobj)}): is not "
                   "initialized, yet kobject_put() is being called.")
    if _kref(call, kobj, -1) != 0:
        return
    parent = _u64(call, kobj + KOBJ["parent"])  # kobject_cleanup
    in_sysfs = _state(call, kobj) & IN_SYSFS
    if in_sysfs:
        _del(call, kobj)
    release = _u64(call, _u64(call, kobj + KOBJ["ktype"]) + KTYPE["release"])
    if release:
        call.machine.call(release, kobj)
    if in_sysfs and parent:
        _put(call, parent)


@function("void kobject_put(struct kobject *kobj)", "lib/kobject.c")
def kobject_put(call, kobj):
    _put(call, kobj)


@function("void kobject_del(struct kobject *kobj)", "lib/kobject.c")
def kobject_del(call, kobj):
    if not kobj:
        return
    parent = _u64(call, kobj + KOBJ["parent"])
    _del(call, kobj)
    call.machine.space.write_u64(kobj + KOBJ["parent"], 0)
    _put(call, parent)
