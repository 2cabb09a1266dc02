"""debugfs: directories and files under /sys/kernel/debug (fs/debugfs/inode.c, file.c, 6.1).

Debian's systemd mounts debugfs at boot (sys-kernel-debug.mount), so /sys/kernel/debug is
there and /proc/mounts lists it. debugfs_create_dir/file/file_unsafe and the value helpers
return a struct dentry * (the value helpers return nothing in 6.1); a parent that is an
ERR_PTR is passed back, a name taken is ERR_PTR(-EEXIST) after start_creating's pr_err
("Directory 'x' with parent 'y' already present!"; the root's name is "/").

Files with the module's file_operations open through a proxy that takes a reference on
fops->owner while open (full_proxy_open; open_proxy_open for _unsafe files) and calls
->open(inode, file) with inode->i_private = data; reads and writes call its ->read and
->write, and answer -EIO once debugfs_remove took the file away (debugfs_file_get).
The value files are the kernel's own: u8/u16/u32/u64/ulong/size_t ("%llu\\n"), x8..x64
("0x%0Nllx\\n"), atomic_t ("%lld\\n") through simple_attr (a write parses at most 23 bytes
with kstrtoull/kstrtoll, base 0, and claims the whole input), bool ("Y\\n"/"N\\n"; a write
takes kstrtobool of the first 3 bytes and returns the count even when it did not parse),
blob (blob->data, blob->size). A mode without write bits makes them read-only, without read
bits write-only (debugfs_create_mode_unsafe); a blob's mode is masked to 0444.
"""

from __future__ import annotations

import stat

from kcourse.kapi.cdev import FOPS_OWNER, ChrdevHandle
from kcourse.kapi.registry import function
from kcourse.kapi.textfile import TextOps
from kcourse.kapi.vfsfile import INODE_PRIVATE, in_kernel, inode_of, limit
from kcourse.kernel import params as P
from kcourse.kernel import structs as S
from kcourse.kernel.errno import KernelErrno
from kcourse.kernel.nodes import Node
from kcourse.machine import tasks as T

ROOT = "/sys/kernel/debug"
EEXIST, EIO, EINVAL, EACCES = 17, 5, 22, 13
MAX_ERRNO = 4095
BLOB_DATA, BLOB_SIZE = S.offsetof("debugfs_blob_wrapper", "data"), \
    S.offsetof("debugfs_blob_wrapper", "size")
VALUES = {  # helper -> (bytes, format, signed)
    "u8": (1, "{}", False), "u16": (2, "{}", False), "u32": (4, "{}", False),
    "u64": (8, "{}", False), "ulong": (8, "{}", False), "size_t": (8, "{}", False),
    "x8": (1, "0x{:02x}", False), "x16": (2, "0x{:04x}", False),
    "x32": (4, "0x{:08x}", False), "x64": (8, "0x{:016x}", False),
    "atomic_t": (4, "{}", True),
}


def is_err(p: int) -> bool:
    return p >= (1 << 64) - MAX_ERRNO


def _dentries(machine) -> dict[int, str]:
    return machine.objects.setdefault("debugfs_dentries", {})  # struct dentry -> path


def _path_of(call, dentry: int) -> str | None:
    if not dentry:
        return ROOT
    path = _dentries(call.machine).get(dentry)
    node = call.kernel.nodes.get(path) if path else None
    return path if node is not None and node.data.get("dentry") == dentry else None


def _start_creating(call, name: bytes | None, parent: int):
    """start_creating: (path, None) or (None, the pointer to return)."""
    if is_err(parent):
        return None, parent
    base = _path_of(call, parent)
    if base is None:
        raise limit(f"kcourse: {call.site} passes {parent:#x} as a debugfs directory, which "
                    "is no dentry the simulator made")
    text = (name or b"").decode("utf-8", "surrogateescape")
    path = f"{base}/{text}"
    existing = call.kernel.nodes.get(path)
    if existing is not None:
        parent_name = "/" if base == ROOT else base.rsplit("/", 1)[1]
        what = (f"Directory '{text}' with parent" if existing.is_dir else
                f"File '{text}' in directory")
        call.kernel.log.printk(f"\0013debugfs: {what} '{parent_name}' already present!\n")
        return None, (1 << 64) - EEXIST
    return path, None


def _make(call, path: str, mode: int, ops, data: dict) -> int:
    """A dentry (and its node) for a new debugfs entry."""
    machine = call.machine
    node = call.kernel.nodes.add(Node(path, mode, owner=call.caller, ops=ops, data=data))
    inode_of(machine, node)
    dentry = node.data["dentry"]  # the dentry inode_of made: d_name, d_inode
    node.data["kind"] = "debugfs"
    _dentries(machine)[dentry] = path
    machine.space.write_u64(node.data["inode"] + INODE_PRIVATE, data.get("private", 0))
    return dentry


@function("struct dentry *debugfs_create_dir(const char *name, struct dentry *parent)",
          "fs/debugfs/inode.c")
def debugfs_create_dir(call, name, parent):
    path, ret = _start_creating(call, name, parent)
    if path is None:
        return ret
    return _make(call, path, stat.S_IFDIR | 0o755, None, {})


def _create_file(call, name, mode: int, parent: int, data: int, fops: int, proxy: bool):
    path, ret = _start_creating(call, name, parent)
    if path is None:
        return ret
    if not mode & 0o170000:
        mode |= stat.S_IFREG
    return _make(call, path, mode, DebugfsOps(call.machine),
                 {"fops": fops, "private": data, "proxy": proxy})


@function("struct dentry *debugfs_create_file(const char *name, umode_t mode, "
          "struct dentry *parent, void *data, const struct file_operations *fops)",
          "fs/debugfs/inode.c")
def debugfs_create_file(call, name, mode, parent, data, fops):
    return _create_file(call, name, mode, parent, data, fops, True)


@function("struct dentry *debugfs_create_file_unsafe(const char *name, umode_t mode, "
          "struct dentry *parent, void *data, const struct file_operations *fops)",
          "fs/debugfs/inode.c")
def debugfs_create_file_unsafe(call, name, mode, parent, data, fops):
    return _create_file(call, name, mode, parent, data, fops, False)


def _value_file(call, name, mode: int, parent: int, value: int, kind: str):
    path, ret = _start_creating(call, name, parent)
    if path is None:
        return ret
    readable, writable = bool(mode & 0o444), bool(mode & 0o222)
    if not writable:  # debugfs_create_mode_unsafe: the _ro or _wo fops
        readable = True
    elif not readable:
        writable = True
    machine = call.machine
    ops = TextOps((lambda: _show(machine, kind, value, path)) if readable else None,
                  (lambda text: _store(machine, kind, value, text, path)) if writable else None,
                  missing=EACCES if kind in VALUES else EINVAL)  # simple_attr: -EACCES
    return _make(call, path, stat.S_IFREG | (mode & 0o7777), ops, {"private": value,
                                                                   "value": kind})


def _show(machine, kind: str, value: int, path: str) -> str:
    _alive(machine, path)
    where = {"bool": "debugfs_read_file_bool", "blob": "read_file_blob"}.get(
        kind, f"debugfs_{kind}_get")
    with in_kernel(machine, where):
        return _value_text(machine, kind, value)


def _value_text(machine, kind: str, value: int) -> str:
    if kind == "bool":
        return "Y\n" if machine.space.read(value, 1)[0] else "N\n"
    if kind == "blob":
        data = machine.space.read_u64(value + BLOB_DATA)
        size = machine.space.read_u64(value + BLOB_SIZE)
        return machine.space.read(data, size).decode("utf-8", "surrogateescape")
    size, fmt, signed = VALUES[kind]
    number = int.from_bytes(machine.space.read(value, size), "little", signed=signed)
    return fmt.format(number) + "\n"


def _store(machine, kind: str, value: int, text: str, path: str) -> None:
    _alive(machine, path)
    where = "debugfs_write_file_bool" if kind == "bool" else f"debugfs_{kind}_set"
    with in_kernel(machine, where):
        _store_value(machine, kind, value, text)


def _store_value(machine, kind: str, value: int, text: str) -> None:
    raw = text.encode("utf-8", "surrogateescape")
    if kind == "bool":
        got = _kstrtobool(raw[:3])
        if got is not None:
            machine.space.write(value, bytes([got]))
        return  # debugfs_write_file_bool returns count either way
    size, _fmt, signed = VALUES[kind]
    buf = raw[:23].decode("latin-1")  # simple_attr's set_buf[24]
    try:
        number = P.kstrtoll(buf, 0) if signed else P.kstrtoull(buf, 0)
    except ValueError as err:
        raise KernelErrno(err.args[0] if err.args and isinstance(err.args[0], int)
                          else EINVAL) from None
    machine.space.write(value, (number & ((1 << 8 * size) - 1)).to_bytes(size, "little"))


def _kstrtobool(s: bytes) -> int | None:
    first = s[:1].lower()
    if first in (b"y", b"t", b"1"):
        return 1
    if first in (b"n", b"f", b"0"):
        return 0
    if first == b"o" and s[1:2].lower() in (b"n", b"f"):
        return int(s[1:2].lower() == b"n")
    return None


def _alive(machine, path: str) -> None:
    node = machine.kernel.nodes.get(path)
    if node is None or node.data.get("removed"):
        raise KernelErrno(EIO)  # debugfs_file_get on a removed file


for _kind in VALUES:
    _ctype = {"u8": "u8", "u16": "u16", "u32": "u32", "u64": "u64", "ulong": "unsigned long",
              "size_t": "size_t", "x8": "u8", "x16": "u16", "x32": "u32", "x64": "u64",
              "atomic_t": "atomic_t"}[_kind]

    def _helper(call, name, mode, parent, value, _k=_kind):
        _value_file(call, name, mode, parent, value, _k)

    function(f"void debugfs_create_{_kind}(const char *name, umode_t mode, "
             f"struct dentry *parent, {_ctype} *value)", "fs/debugfs/file.c")(_helper)


@function("void debugfs_create_bool(const char *name, umode_t mode, struct dentry *parent, "
          "bool *value)", "fs/debugfs/file.c")
def debugfs_create_bool(call, name, mode, parent, value):
    _value_file(call, name, mode, parent, value, "bool")


@function("struct dentry *debugfs_create_blob(const char *name, umode_t mode, "
          "struct dentry *parent, struct debugfs_blob_wrapper *blob)", "fs/debugfs/file.c")
def debugfs_create_blob(call, name, mode, parent, blob):
    return _value_file(call, name, mode & 0o444, parent, blob, "blob")


def _remove(call, path: str) -> None:
    for gone in call.kernel.nodes.remove(path):
        gone.data["removed"] = True


@function("void debugfs_remove(struct dentry *dentry)", "fs/debugfs/inode.c")
def debugfs_remove(call, dentry):
    if not dentry or is_err(dentry):
        return
    path = _path_of(call, dentry)
    if path is not None and path != ROOT:
        _remove(call, path)


@function("void debugfs_lookup_and_remove(const char *name, struct dentry *parent)",
          "fs/debugfs/inode.c")
def debugfs_lookup_and_remove(call, name, parent):
    base = _path_of(call, parent)
    path = f"{base}/{(name or b'').decode('utf-8', 'surrogateescape')}" if base else None
    if path and call.kernel.nodes.get(path) is not None:
        _remove(call, path)


@function("int simple_open(struct inode *inode, struct file *file)", "fs/libfs.c")
def simple_open(call, inode, file):
    private = call.machine.space.read_u64(inode + INODE_PRIVATE)
    if private:
        call.machine.space.write_u64(file + T.FILE_PRIVATE_DATA, private)
    return 0


# ---------------------------------------------------------------- files with module fops
class DebugfsOps:
    def __init__(self, machine):
        self.machine = machine

    def open(self, node: Node, flags: int):
        handle = DebugfsHandle(self.machine, node, flags)
        handle.open_file()
        return handle


class DebugfsHandle(ChrdevHandle):
    """full_proxy_open / open_proxy_open: fops_get(real_fops), then its ->open."""

    def open_file(self) -> None:
        node = self.node
        if node.data.get("removed"):
            raise KernelErrno(2)  # ENOENT: debugfs_file_get said -EIO
        fops = node.data["fops"]
        if not fops or not self._get(self.kernel_read_u64(fops + FOPS_OWNER,
                                                          "full_proxy_open")):
            raise KernelErrno(6)  # ENXIO
        self.new_file(fops)
        open_fn = self.kernel_read_u64(fops + T.FOPS_OPEN, "full_proxy_open")
        self.fops = fops
        if open_fn:
            ret = self.call_open(open_fn)
            if ret:
                self._put_all()
                raise KernelErrno(-ret if ret < 0 else EINVAL)
        self.opened()

    def read_once(self, buffer: int, count: int, ppos: int) -> int:
        if self.node.data.get("removed"):
            return -EIO
        return super().read_once(buffer, count, ppos)

    def write_once(self, buffer: int, count: int, ppos: int) -> int:
        if self.node.data.get("removed"):
            return -EIO
        return super().write_once(buffer, count, ppos)

