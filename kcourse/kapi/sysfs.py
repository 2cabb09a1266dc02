"""sysfs attributes: fs/sysfs/file.c and group.c (6.1), and reading and writing them.

Attributes (sysfs_create_file_ns, sysfs_create_group: a group's modes are masked to 0664 with
a WARN for more; is_visible decides per attribute) become files whose kernfs ops follow the
kobject's sysfs_ops (kcourse.kapi.kobject): reading one runs sysfs_ops->show(kobj, attr, buf)
on a zeroed page (sysfs_kf_seq_show: a count of PAGE_SIZE or more is "fill_read_buffer: %pS
returned bad count" and cut to 4095), once per read from offset 0; writing copies at most
PAGE_SIZE bytes (more is -E2BIG) into a NUL-terminated kernel buffer and runs
->store(kobj, attr, buf, count) (sysfs_kf_write). kernfs refuses to open for reading a file
without read permission or show, for writing one without write permission or store (-EACCES,
even for root). A file removed while open answers -ENODEV. Nothing here takes a module
reference.
"""

from __future__ import annotations

import stat

from kcourse.kapi import kwarn
from kcourse.kapi.kobject import KOBJ, KTYPE, _name, _paths, _u64, directory
from kcourse.kapi.registry import function
from kcourse.kapi.vfsfile import free_block, in_kernel, kernel_block, limit
from kcourse.kernel import structs as S
from kcourse.kernel.errno import KernelErrno
from kcourse.kernel.nodes import Node

SYSFS_OPS = {f: S.offsetof("sysfs_ops", f) for f in ("show", "store")}
ATTR_NAME, ATTR_MODE = S.offsetof("attribute", "name"), S.offsetof("attribute", "mode")
GROUP = {f: S.offsetof("attribute_group", f) for f in ("name", "is_visible", "attrs")}
PAGE_SIZE, SYSFS_PREALLOC = 4096, 0o10000
EINVAL, EEXIST, ENODEV, E2BIG, EACCES = 22, 17, 19, 7, 13


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


def ops_table(machine, show: str, store: str) -> int:
    """A struct sysfs_ops {show, store} in kernel memory, made once per machine, pointing at
    the kapi functions `show` and `store` (class_sysfs_ops, dev_sysfs_ops)."""
    key = f"sysfs_ops:{show}"
    ops = machine.objects.get(key)
    if ops is None:
        ops = machine.kernel_alloc(16)
        machine.space.write_u64(ops, machine.address_of(show))
        machine.space.write_u64(ops + 8, machine.address_of(store))
        machine.objects[key] = ops
    return ops


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
