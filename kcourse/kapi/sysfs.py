"""kobjects and their sysfs files: lib/kobject.c and fs/sysfs (file.c, group.c, dir.c), 6.1.

A kobject is the module's struct (kobject_init_and_add) or the kernel's (kobject_create_and_add:
dynamic_kobj_ktype, whose sysfs_ops is kobj_sysfs_ops). kobject_add names it and makes its
directory under the parent's (kernel_kobj: /sys/kernel; NULL: /sys), with the ktype's
default_groups; a name taken is kernfs's duplicate (sysfs_warn_dup, dump_stack,
kobject_add_internal's -EEXIST line). The kref and state bits live in the struct, so
kobject_get/kobject_put count as the kernel does: the last put removes the directory if it
is still there (kobject_cleanup) and calls the ktype's release.

Attributes (sysfs_create_file_ns, sysfs_create_group: a group's modes are masked to 0664 with
a WARN for more; is_visible decides per attribute) become files whose kernfs ops follow the
ktype's sysfs_ops: reading one runs sysfs_ops->show(kobj, attr, buf) on a zeroed page
(sysfs_kf_seq_show: a count of PAGE_SIZE or more is "fill_read_buffer: %pS returned bad
count" and cut to 4095), once per read from offset 0; writing copies at most PAGE_SIZE bytes
(more is -E2BIG) into a NUL-terminated kernel buffer and runs ->store(kobj, attr, buf, count)
(sysfs_kf_write). kernfs refuses to open for reading a file without read permission or show,
for writing one without write permission or store (-EACCES, even for root). A file removed
while open answers -ENODEV. Nothing here takes a module reference.
"""

from __future__ import annotations

import stat

from kcourse.kapi import kwarn, printk
from kcourse.kapi.device import _duplicate
from kcourse.kapi.registry import data, function
from kcourse.kapi.vfsfile import free_block, in_kernel, kernel_block, limit
from kcourse.kernel import structs as S
from kcourse.kernel.errno import KernelErrno
from kcourse.kernel.nodes import Node

KOBJ = {f: S.offsetof("kobject", f) for f in ("name", "parent", "ktype", "kref")}
STATE = S.offsetof("kobject", "state_initialized")  # the bit fields' 32-bit word
INITIALIZED, IN_SYSFS = 1, 2  # state_initialized, state_in_sysfs (bits 0 and 1)
KTYPE = {f: S.offsetof("kobj_type", f) for f in ("release", "sysfs_ops", "default_groups")}
SYSFS_OPS = {f: S.offsetof("sysfs_ops", f) for f in ("show", "store")}
ATTR_NAME, ATTR_MODE = S.offsetof("attribute", "name"), S.offsetof("attribute", "mode")
KATTR_SHOW, KATTR_STORE = S.offsetof("kobj_attribute", "show"), \
    S.offsetof("kobj_attribute", "store")
GROUP = {f: S.offsetof("attribute_group", f) for f in ("name", "is_visible", "attrs")}
PAGE_SIZE, SYSFS_PREALLOC = 4096, 0o10000
EINVAL, EIO, EEXIST, ENODEV, E2BIG, EACCES = 22, 5, 17, 19, 7, 13
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
    groups = _u64(call, _u64(call, kobj + KOBJ["ktype"]) + KTYPE["default_groups"])
    error = _create_groups(call, kobj, groups)
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
        _gone(call.kernel.nodes.remove(path))
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


# ---------------------------------------------------------------- attributes
def _add_file(call, kobj: int, attr: int, mode: int, where: str) -> int:
    """sysfs_add_file_mode_ns: 0 or -errno."""
    ops = sysfs_ops_of(call, kobj)
    name = call.machine.space.read_cstring(_u64(call, attr + ATTR_NAME)).decode(
        "utf-8", "surrogateescape")
    if not ops:
        kwarn.warn(call, "fs/sysfs/file.c:269", "sysfs_add_file_mode_ns",
                   f"missing sysfs attribute operations for kobject: {_name(call, kobj)}")
        return -EINVAL
    path = f"{where}/{name}"
    if call.kernel.nodes.get(path) is not None:
        from kcourse.kapi.device import _duplicate as dup

        dup(call, where[len("/sys"):] or "/", name, ["sysfs_add_file_mode_ns+0x17c/0x190"])
        return -EEXIST
    has_read = bool(_u64(call, ops + SYSFS_OPS["show"]))
    has_write = bool(_u64(call, ops + SYSFS_OPS["store"]))
    call.kernel.nodes.add(Node(path, stat.S_IFREG | (mode & 0o777), owner=call.caller,
                               size=PAGE_SIZE, ops=SysfsOps(call.machine),
                               data={"kind": "sysfs", "kobj": kobj, "attr": attr,
                                     "sysfs_ops": ops, "read": has_read, "write": has_write}))
    return 0


@function("int sysfs_create_file_ns(struct kobject *kobj, const struct attribute *attr, "
          "const void *ns)", "fs/sysfs/file.c")
def sysfs_create_file_ns(call, kobj, attr, ns):
    path = directory(call, kobj) if kobj else None
    if path is None or not attr:
        kwarn.warn_on(call, "fs/sysfs/file.c:355", "sysfs_create_file_ns")
        return -EINVAL
    mode = int.from_bytes(call.machine.space.read(attr + ATTR_MODE, 2), "little")
    return _add_file(call, kobj, attr, mode, path)


@function("void sysfs_remove_file_ns(struct kobject *kobj, const struct attribute *attr, "
          "const void *ns)", "fs/sysfs/file.c")
def sysfs_remove_file_ns(call, kobj, attr, ns):
    path = directory(call, kobj)
    if path is not None:
        name = call.machine.space.read_cstring(_u64(call, attr + ATTR_NAME)).decode(
            "utf-8", "surrogateescape")
        _gone(call.kernel.nodes.remove(f"{path}/{name}"))


def _gone(nodes) -> None:
    for node in nodes:
        node.data["removed"] = True


def sysfs_ops_of(call, kobj: int) -> int:
    """kobj->ktype->sysfs_ops; a class stands for its subsys kobject (class_sysfs_ops)."""
    override = call.machine.objects.get("sysfs_ops_of", {}).get(kobj)
    return override or _u64(call, _u64(call, kobj + KOBJ["ktype"]) + KTYPE["sysfs_ops"])


def stand_in(call, kobj: int, path: str, sysfs_ops: int) -> None:
    """Let `kobj` (a struct class) name the sysfs directory `path` with these sysfs_ops."""
    _paths(call.machine)[kobj] = path
    call.machine.objects.setdefault("sysfs_ops_of", {})[kobj] = sysfs_ops


def create_groups(call, kobj: int, groups: int) -> int:
    """sysfs_create_groups: each group of a NULL-terminated array, undone on an error."""
    return _create_groups(call, kobj, groups)


def _group_attrs(call, grp: int) -> list[int]:
    attrs, out = _u64(call, grp + GROUP["attrs"]), []
    while attrs and (attr := _u64(call, attrs + 8 * len(out))):
        out.append(attr)
    return out


def _create_group(call, kobj: int, grp: int) -> int:
    where = directory(call, kobj)
    if where is None:
        kwarn.warn_on(call, "fs/sysfs/group.c:115", "internal_create_group")
        return -EINVAL
    attrs = _group_attrs(call, grp)
    if not attrs and not _u64(call, grp + 32):  # !grp->attrs && !grp->bin_attrs
        kwarn.warn(call, "fs/sysfs/group.c:122", "internal_create_group",
                   f"sysfs: (bin_)attrs not set by subsystem for group: {_name(call, kobj)}/")
        return -EINVAL
    name_at = _u64(call, grp + GROUP["name"])
    if name_at:
        sub = call.machine.space.read_cstring(name_at).decode("utf-8", "surrogateescape")
        if call.kernel.nodes.get(f"{where}/{sub}") is not None:
            from kcourse.kapi.device import _duplicate as dup

            dup(call, where[len("/sys"):] or "/", sub, ["internal_create_group+0x1a2/0x3c0"])
            return -EEXIST
        where = f"{where}/{sub}"
        call.kernel.nodes.add(Node(where, stat.S_IFDIR | 0o755, owner=call.caller,
                                   data={"kind": "group"}))
    visible = _u64(call, grp + GROUP["is_visible"])
    made = []
    for i, attr in enumerate(attrs):
        name = call.machine.space.read_cstring(_u64(call, attr + ATTR_NAME)).decode(
            "utf-8", "surrogateescape")
        mode = int.from_bytes(call.machine.space.read(attr + ATTR_MODE, 2), "little")
        if visible:
            mode = call.machine.call(visible, kobj, attr, i) & 0xFFFF
            if not mode:
                continue
        if mode & ~(SYSFS_PREALLOC | 0o664):
            kwarn.warn(call, "fs/sysfs/group.c:59", "create_files",
                       f"Attribute {name}: Invalid permissions 0{mode:o}")
        error = _add_file(call, kobj, attr, mode & (SYSFS_PREALLOC | 0o664), where)
        if error:
            for path in made:
                call.kernel.nodes.remove(path)
            if name_at:
                call.kernel.nodes.remove(where)
            return error
        made.append(f"{where}/{name}")
    return 0


def _create_groups(call, kobj: int, groups: int) -> int:
    i = 0
    while groups and (grp := _u64(call, groups + 8 * i)):
        error = _create_group(call, kobj, grp)
        if error:
            return error
        i += 1
    return 0


@function("int sysfs_create_group(struct kobject *kobj, const struct attribute_group *grp)",
          "fs/sysfs/group.c")
def sysfs_create_group(call, kobj, grp):
    return _create_group(call, kobj, grp)


@function("void sysfs_remove_group(struct kobject *kobj, const struct attribute_group *grp)",
          "fs/sysfs/group.c")
def sysfs_remove_group(call, kobj, grp):
    path = directory(call, kobj)
    if path is None:
        return
    name_at = _u64(call, grp + GROUP["name"])
    if name_at:
        sub = call.machine.space.read_cstring(name_at).decode("utf-8", "surrogateescape")
        if call.kernel.nodes.get(f"{path}/{sub}") is None:
            kwarn.warn(call, "fs/sysfs/group.c:278", "sysfs_remove_group",
                       f"sysfs group '{sub}' not found for kobject '{_name(call, kobj)}'")
            return
        _gone(call.kernel.nodes.remove(f"{path}/{sub}"))
        return
    for attr in _group_attrs(call, grp):
        name = call.machine.space.read_cstring(_u64(call, attr + ATTR_NAME)).decode(
            "utf-8", "surrogateescape")
        _gone(call.kernel.nodes.remove(f"{path}/{name}"))


# ---------------------------------------------------------------- the files
class SysfsOps:
    """kernfs_fop_open for a sysfs attribute file."""

    def __init__(self, machine):
        self.machine = machine

    @staticmethod
    def may_open(node: Node, flags: int) -> int:
        access = flags & 3
        reading, writing = access != 1, access != 0
        if reading and (not node.mode & 0o444 or not node.data["read"]) or \
                writing and (not node.mode & 0o222 or not node.data["write"]):
            return EACCES
        return 0

    def open(self, node: Node, flags: int):
        err = self.may_open(node, flags)
        if err:
            raise KernelErrno(err)
        return SysfsHandle(self.machine, node)


class SysfsHandle:
    def __init__(self, machine, node: Node):
        self.machine, self.node, self.refs = machine, node, []

    def _ops(self, member: str) -> int:
        return self.machine.space.read_u64(self.node.data["sysfs_ops"] + SYSFS_OPS[member])

    def read(self) -> str:
        with in_kernel(self.machine, "sysfs_kf_seq_show"):
            return self._read()

    def write(self, text: str) -> int:
        with in_kernel(self.machine, "sysfs_kf_write"):
            return self._write(text)

    def _read(self) -> str:
        """sysfs_kf_seq_show into a zeroed page: the whole text in cat's first read."""
        if self.node.data.get("removed"):
            raise KernelErrno(ENODEV)
        machine, data = self.machine, self.node.data
        buf = kernel_block(machine, PAGE_SIZE)
        show = self._ops("show")
        count = machine.call(show, data["kobj"], data["attr"], buf)
        count = count - (1 << 64) if count >> 63 else count
        if count < 0:
            free_block(machine, buf, PAGE_SIZE)
            raise KernelErrno(-count)
        if count >= PAGE_SIZE:
            name = machine.symbolize(show) or f"{show:#x}"
            machine.kernel.log.printk(f"fill_read_buffer: {name} returned bad count\n")
            count = PAGE_SIZE - 1
        text = machine.space.read(buf, count)
        free_block(machine, buf, PAGE_SIZE)
        return text.decode("utf-8", "surrogateescape")

    def _write(self, text: str) -> int:
        """kernfs_fop_write_iter + sysfs_kf_write, for each write(2) bash makes."""
        if self.node.data.get("removed"):
            return -ENODEV
        data = text.encode("utf-8", "surrogateescape")
        if len(data) > PAGE_SIZE:  # atomic_write_len
            return -E2BIG
        machine, done = self.machine, 0
        while done < len(data):
            chunk = data[done:]
            buf = kernel_block(machine, len(chunk) + 1)
            machine.space.write(buf, chunk + b"\0")
            ret = machine.call(self._ops("store"), self.node.data["kobj"],
                               self.node.data["attr"], buf, len(chunk))
            free_block(machine, buf, len(chunk) + 1)
            ret = ret - (1 << 64) if ret >> 63 else ret
            if ret < 0:
                return ret
            if ret == 0:
                raise limit(f"kcourse: {machine.symbolize(self._ops('store'))} took 0 bytes; "
                            "bash would write the rest again for ever")
            done += ret
        return done

    def release(self) -> None:
        return None
