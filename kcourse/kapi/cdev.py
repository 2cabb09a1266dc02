"""Character devices: device numbers and struct cdev (fs/char_dev.c), and opening /dev nodes.

Numbers: register_chrdev_region, alloc_chrdev_region, unregister_chrdev_region and the
register_chrdev() inline's __register_chrdev/__unregister_chrdev reserve ranges in the
kernel's table (kcourse.kernel.chrdevs: dynamic majors from 254 down, as the lab's guest
gives them; /proc/devices lists them).

cdevs: cdev_init (memset, ops), cdev_alloc, cdev_add (into cdev_map: a lookup finds the
smallest range holding the number, the newest of equal ones, kobj_map), cdev_del. The
struct cdev is the module's (cdev_init) or the kernel's (cdev_alloc, __register_chrdev), in
emulated memory; owner and ops are read from it when the device is opened, as chrdev_open
does: inode->i_cdev (cached on the first open), else the cdev_map lookup (-ENXIO when
none); cdev_get takes a reference on cdev->owner, fops_get one on ops->owner (either failing
is -ENXIO: a module being removed); then ops->open(inode, file). An open character device
therefore holds two references when both owners are set, none when neither is (a
file_operations without `.owner = THIS_MODULE`, like LKMPG's chardev): __fput drops them
after ->release. cdev_del takes the cdev out of the map and purges it from inodes.
"""

from __future__ import annotations

from kcourse.kapi.registry import function
from kcourse.kapi.vfsfile import (
    INODE_CDEV,
    Handle,
    call_fops_read,
    call_fops_write,
    call_int,
    kernel_block,
    limit,
)
from kcourse.kernel import chrdevs as D
from kcourse.kernel import structs as S
from kcourse.kernel.errno import KernelErrno
from kcourse.machine import tasks as T

CDEV_SIZE = S.sizeof("cdev")
CDEV_OWNER, CDEV_OPS = S.offsetof("cdev", "owner"), S.offsetof("cdev", "ops")
CDEV_DEV, CDEV_COUNT = S.offsetof("cdev", "dev"), S.offsetof("cdev", "count")
CDEV_LIST = S.offsetof("cdev", "list")
KOBJ_NAME = S.offsetof("kobject", "name")
FOPS_OWNER = S.offsetof("file_operations", "owner")
ENXIO, ENOMEM, EBUSY = 6, 12, 16
ERR = ("ERR", "\0013")  # KERN_ERR: fs/char_dev.c has no pr_fmt


def module_of_struct(machine, address: int):
    """The loaded Module whose struct module is at `address`; None for NULL (the kernel)."""
    if not address:
        return None
    for code in machine.codes:
        if code.this_module == address:
            return code.module
    if not machine.space.is_mapped(address):  # freed with its module: try_module_get reads
        from kcourse.machine.machine import ModuleFault  # module->state there and faults

        raise ModuleFault(14, machine.address_of("try_module_get"), address,
                          machine.cpu.registers())
    raise limit(f"kcourse: a file_operations or cdev names the module at {address:#x}, "
                "which is not loaded (it was removed without unregistering)")


def _region(call, major: int, baseminor: int, count: int, name: bytes | None):
    text = (name or b"").decode("utf-8", "replace")
    problem = D.ChrdevTable.check(major, baseminor, count, text)
    if problem is not None:
        call.kernel.log.printk(f"\0013{problem}\n")
        return -22
    got = call.kernel.chrdevs.register(major, baseminor, count, text, owner=call.caller)
    if got == -EBUSY and major == 0:
        call.kernel.log.printk(f'\0013CHRDEV "{text}" dynamic allocation region is full\n')
    return got


@function("int register_chrdev_region(dev_t from, unsigned int count, const char *name)",
          "fs/char_dev.c")
def register_chrdev_region(call, frm, count, name):
    to = frm + count
    n = frm
    done = []
    while n < to:
        nxt = min(D.mkdev(D.major_of(n) + 1, 0), to)
        got = _region(call, D.major_of(n), D.minor_of(n), nxt - n, name)
        if isinstance(got, int):
            for region in done:  # fail: undo what was registered
                call.kernel.chrdevs.unregister(region.major, region.baseminor, region.minorct)
            return got
        done.append(got)
        n = nxt
    return 0


@function("int alloc_chrdev_region(dev_t *dev, unsigned int baseminor, unsigned int count, "
          "const char *name)", "fs/char_dev.c")
def alloc_chrdev_region(call, dev, baseminor, count, name):
    got = _region(call, 0, baseminor, count, name)
    if isinstance(got, int):
        return got
    call.machine.space.write(dev, D.mkdev(got.major, got.baseminor).to_bytes(4, "little"))
    return 0


@function("void unregister_chrdev_region(dev_t from, unsigned int count)", "fs/char_dev.c")
def unregister_chrdev_region(call, frm, count):
    to = frm + count
    n = frm
    while n < to:
        nxt = min(D.mkdev(D.major_of(n) + 1, 0), to)
        call.kernel.chrdevs.unregister(D.major_of(n), D.minor_of(n), nxt - n)
        n = nxt


def _init_cdev(machine, cdev: int, fops: int) -> None:
    space = machine.space
    space.write(cdev, bytes(CDEV_SIZE))
    space.write_u64(cdev + CDEV_LIST, cdev + CDEV_LIST)  # INIT_LIST_HEAD
    space.write_u64(cdev + CDEV_LIST + 8, cdev + CDEV_LIST)
    space.write_u64(cdev + CDEV_OPS, fops)


@function("void cdev_init(struct cdev *cdev, const struct file_operations *fops)",
          "fs/char_dev.c")
def cdev_init(call, cdev, fops):
    _init_cdev(call.machine, cdev, fops)


@function("struct cdev *cdev_alloc(void)", "fs/char_dev.c")
def cdev_alloc(call):
    cdev = kernel_block(call.machine, CDEV_SIZE)
    _init_cdev(call.machine, cdev, 0)
    return cdev


def _add(call, cdev: int, dev: int, count: int) -> int:
    space = call.machine.space
    space.write(cdev + CDEV_DEV, dev.to_bytes(4, "little"))
    space.write(cdev + CDEV_COUNT, count.to_bytes(4, "little"))
    if dev == 0:  # WARN_ON(dev == WHITEOUT_DEV)
        from kcourse.kapi import kwarn

        kwarn.warn_on(call, "fs/char_dev.c:486", "cdev_add")
        return -EBUSY
    call.kernel.chrdevs.cdev_map.append((dev, count, cdev, call.caller))
    return 0


@function("int cdev_add(struct cdev *p, dev_t dev, unsigned int count)", "fs/char_dev.c")
def cdev_add(call, p, dev, count):
    return _add(call, p, dev, count)


def _del(call, cdev: int) -> None:
    """cdev_unmap, then the last kobject_put's cdev_purge: inodes forget it."""
    chrdevs = call.kernel.chrdevs
    chrdevs.cdev_map = [entry for entry in chrdevs.cdev_map if entry[2] != cdev]
    for node in call.kernel.nodes:
        if node.data.get("i_cdev") == cdev:
            node.data.pop("i_cdev")


@function("void cdev_del(struct cdev *p)", "fs/char_dev.c")
def cdev_del(call, p):
    _del(call, p)


@function("int __register_chrdev(unsigned int major, unsigned int baseminor, "
          "unsigned int count, const char *name, const struct file_operations *fops)",
          "fs/char_dev.c")
def __register_chrdev(call, major, baseminor, count, name, fops):
    region = _region(call, major, baseminor, count, name)
    if isinstance(region, int):
        return region
    machine = call.machine
    cdev = cdev_alloc(call)
    machine.space.write_u64(cdev + CDEV_OWNER, machine.space.read_u64(fops + FOPS_OWNER))
    machine.space.write_u64(cdev + CDEV_OPS, fops)
    machine.space.write_u64(cdev + KOBJ_NAME, machine.kernel_string(
        (name or b"")[:63] + b"\0"))  # kobject_set_name(&cdev->kobj, "%s", name)
    _add(call, cdev, D.mkdev(region.major, baseminor), count)
    region.cdev = cdev
    return 0 if major else region.major


@function("void __unregister_chrdev(unsigned int major, unsigned int baseminor, "
          "unsigned int count, const char *name)", "fs/char_dev.c")
def __unregister_chrdev(call, major, baseminor, count, name):
    region = call.kernel.chrdevs.unregister(major, baseminor, count)
    if region is not None and region.cdev:
        _del(call, region.cdev)


# ---------------------------------------------------------------- /dev nodes
class ChrdevOps:
    """def_chr_fops.open = chrdev_open, for a /dev node devtmpfs made."""

    def __init__(self, machine):
        self.machine = machine

    def open(self, node, flags: int) -> ChrdevHandle:
        handle = ChrdevHandle(self.machine, node, flags)
        handle.open_file()
        return handle


class ChrdevHandle(Handle):
    def _get(self, owner_address: int) -> bool:
        """try_module_get of an owner (NULL always succeeds); the reference is kept."""
        module = module_of_struct(self.machine, owner_address)
        if module is None:
            return True
        if not self.machine.kernel.try_module_get(module, why=f"open {self.node.path}"):
            return False
        self.refs.append(module)
        return True

    def _put_all(self) -> None:
        for module in self.refs:
            self.machine.kernel.module_put(module, why=f"open {self.node.path} failed")
        self.refs.clear()

    def open_file(self) -> None:
        machine, node = self.machine, self.node
        read = self.kernel_read_u64
        cdev = node.data.get("i_cdev") or machine.kernel.chrdevs.cdev_at(node.rdev)
        if not cdev:
            raise KernelErrno(ENXIO)
        if not self._get(read(cdev + CDEV_OWNER, "chrdev_open")):
            raise KernelErrno(ENXIO)
        node.data["i_cdev"] = cdev
        machine.space.write_u64(self.inode + INODE_CDEV, cdev)
        fops = read(cdev + CDEV_OPS, "chrdev_open")
        if not fops or not self._get(read(fops + FOPS_OWNER, "chrdev_open")):
            self._put_all()
            raise KernelErrno(ENXIO)
        self.new_file(fops)  # replace_fops(filp, fops)
        open_fn = read(fops + T.FOPS_OPEN, "chrdev_open")
        if open_fn:
            ret = self.call_open(open_fn)
            if ret:
                self._put_all()
                raise KernelErrno(-ret if ret < 0 else 22)  # do_dentry_open: > 0 is EINVAL
        self.fops = fops
        self.opened()

    def call_open(self, open_fn: int) -> int:
        """->open(inode, file). If the simulator has to stop inside it, the references
        this open took go back (an oops keeps them, as the dying task does)."""
        from kcourse.kernel.kernel import SimulatorLimit

        try:
            return call_int(self.machine, open_fn, self.inode, self.file, bits=32)
        except SimulatorLimit:
            self._put_all()
            raise

    def read_once(self, buffer: int, count: int, ppos: int) -> int:
        return call_fops_read(self.machine, self.file, self.fops, buffer, count, ppos)

    def write_once(self, buffer: int, count: int, ppos: int) -> int:
        return call_fops_write(self.machine, self.file, self.fops, buffer, count, ppos)

    def release_file(self) -> None:
        release = self.kernel_read_u64(self.fops + T.FOPS_RELEASE, "__fput")
        if release:
            self.machine.call(release, self.inode, self.file)
