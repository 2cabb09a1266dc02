"""An open file of a module's /proc, /sys or /dev entry: struct file, inode and dentry in the
emulated memory, and the read(2)/write(2) loops of the programs the shell runs.

What the VFS does before and after a file system's own methods:
- do_dentry_open (fs/open.c): f_inode, f_path.dentry (whose d_name the module may print:
  LKMPG's procfs1 prints `file->f_path.dentry->d_name.name`), f_op, f_flags (O_LARGEFILE
  forced on 64-bit, O_CREAT/O_TRUNC dropped), f_mode (FMODE_READ/WRITE, LSEEK, PREAD,
  PWRITE, ATOMIC_POS for regular files; CAN_READ/CAN_WRITE after ->open when f_op has
  read/read_iter, write/write_iter);
- ksys_read/ksys_write (fs/read_write.c): the method gets a pointer to a copy of f_pos on
  the kernel stack (`pos`), which goes back to file->f_pos only when the call returns >= 0;
  vfs_read/vfs_write refuse with -EINVAL a file that cannot read or write, and clamp the
  count to MAX_RW_COUNT;
- __fput (fs/file_table.c): ->release(inode, file), its value ignored.

The inode and dentry of an entry are made on its first open and kept (the dcache and icache
keep them while the entry exists); each open gets a new struct file. The calling program's
buffer is user memory (kcourse.kapi.uaccess): `cat` reads 128 KiB at a time into an mmapped
buffer until read returns 0, bash's `echo text > file` writes from its heap, again while the
file took less than all of it (kcourse.machine.files has the same programs).
"""

from __future__ import annotations

import contextlib

from kcourse.kapi import uaccess
from kcourse.kapi.abi import to_c
from kcourse.kernel import structs as S
from kcourse.kernel.errno import KernelErrno
from kcourse.machine import files as F
from kcourse.machine import tasks as T

FMODE_READ, FMODE_WRITE, FMODE_LSEEK, FMODE_PREAD, FMODE_PWRITE = 0x1, 0x2, 0x4, 0x8, 0x10
FMODE_ATOMIC_POS, FMODE_CAN_READ, FMODE_CAN_WRITE, FMODE_OPENED = 0x8000, 0x20000, 0x40000, \
    0x80000
O_WRONLY, O_CREAT, O_EXCL, O_NOCTTY, O_TRUNC = 0o1, 0o100, 0o200, 0o400, 0o1000
O_LARGEFILE = 0o100000  # include/uapi/asm-generic/fcntl.h
MAX_RW_COUNT = 0x7FFFF000  # INT_MAX & PAGE_MASK
MAX_CAT_BYTES = 1 << 20  # cat of a file that never ends: the simulator stops after 1 MiB
EINVAL, EBADF = 22, 9

FILE_FLAGS = S.offsetof("file", "f_flags")
FILE_DENTRY = S.offsetof("file", "f_path") + S.offsetof("path", "dentry")
INODE_MODE, INODE_UID, INODE_GID = (S.offsetof("inode", f) for f in ("i_mode", "i_uid", "i_gid"))
INODE_RDEV, INODE_SIZE = S.offsetof("inode", "i_rdev"), S.offsetof("inode", "i_size")
INODE_PRIVATE, INODE_NLINK = S.offsetof("inode", "i_private"), S.offsetof("inode", "i_nlink")
INODE_CDEV, INODE_FOP = S.offsetof("inode", "i_cdev"), S.offsetof("inode", "i_fop")
INODE_INO = S.offsetof("inode", "i_ino")
DENTRY_SIZE = S.sizeof("dentry")
DENTRY_NAME = S.offsetof("dentry", "d_name")
DENTRY_INODE = S.offsetof("dentry", "d_inode")
QSTR_LEN, QSTR_NAME = S.offsetof("qstr", "len"), S.offsetof("qstr", "name")
FOPS_SIZE = S.sizeof("file_operations")
FOPS_READ_ITER = S.offsetof("file_operations", "read_iter")
FOPS_WRITE_ITER = S.offsetof("file_operations", "write_iter")
FOPS_LLSEEK = S.offsetof("file_operations", "llseek")


def u64(machine, address: int) -> int:
    return machine.space.read_u64(address)


def s64(machine, address: int) -> int:
    return to_c(machine.space.read_u64(address), 64, True)


def call_int(machine, fn: int, *args, bits: int = 64) -> int:
    """Call a function pointer (module code, or a kapi slot) and read %rax as a C value."""
    return to_c(machine.call(fn, *args), bits, True)


@contextlib.contextmanager
def in_kernel(machine, function: str):
    """Python standing in for the kernel's `function`: an access to memory that is not there
    (a module's, freed with it) is that function's page fault, and the kernel oopses."""
    from kcourse.machine.address_space import BadAccess
    from kcourse.machine.machine import ModuleFault

    try:
        yield
    except BadAccess as err:
        raise ModuleFault(14, machine.address_of(function), err.address,
                          machine.cpu.registers()) from None


def kernel_block(machine, size: int) -> int:
    """Zeroed memory of the kernel's own (a struct file, a seq_file and its buffer): not in
    any module's ledger; freed blocks are reused, so reading a file a million times does not
    grow the machine."""
    pool = machine.objects.setdefault("kernel_blocks", {}).setdefault(size, [])
    if pool:
        address = pool.pop()
        machine.space.write(address, bytes(size))
        return address
    return machine.kernel_alloc(size)


def free_block(machine, address: int, size: int) -> None:
    if address:
        machine.objects.setdefault("kernel_blocks", {}).setdefault(size, []).append(address)


def inode_of(machine, node) -> int:
    """The entry's inode (and its dentry), made on first use: mode, owner, size, rdev."""
    inode = node.data.get("inode")
    if inode is None:
        space = machine.space
        inode = machine.kernel_alloc(T.INODE_SIZE)
        dentry = machine.kernel_alloc(DENTRY_SIZE)
        name = machine.kernel_string(node.name.encode() + b"\0")
        space.write(dentry + DENTRY_NAME + QSTR_LEN, len(node.name.encode()).to_bytes(4, "little"))
        space.write_u64(dentry + DENTRY_NAME + QSTR_NAME, name)
        space.write_u64(dentry + DENTRY_INODE, inode)
        space.write(inode + INODE_INO, (0xF0000000 + len(machine.objects.setdefault(
            "inodes", []))).to_bytes(8, "little"))  # PROC_DYNAMIC_FIRST-like numbers
        machine.objects["inodes"].append(inode)
        machine.objects.setdefault("inode_nodes", {})[inode] = node
        node.data["inode"], node.data["dentry"] = inode, dentry
    space = machine.space
    space.write(inode + INODE_MODE, (node.mode & 0xFFFF).to_bytes(2, "little"))
    space.write(inode + INODE_UID, node.uid.to_bytes(4, "little"))
    space.write(inode + INODE_GID, node.gid.to_bytes(4, "little"))
    space.write(inode + INODE_RDEV, node.rdev.to_bytes(4, "little"))
    space.write(inode + INODE_SIZE, node.size.to_bytes(8, "little", signed=True))
    return inode


def node_of_inode(machine, inode: int):
    """The entry an inode belongs to (PDE(inode), kn->priv...)."""
    return machine.objects.get("inode_nodes", {}).get(inode)


def kernel_fops(machine, name: str, **methods: str) -> int:
    """A struct file_operations of the kernel's own (proc_reg_file_ops, ...): its methods
    point at kapi slots; modules only ever compare or pass it."""
    table = machine.objects.setdefault("kernel_fops", {})
    if name not in table:
        address = machine.kernel_alloc(FOPS_SIZE)
        for member, fn in methods.items():
            machine.space.write_u64(address + S.offsetof("file_operations", member),
                                    machine.address_of(fn))
        table[name] = address
    return table[name]


class Handle:
    """One open file. Subclasses give open_file() (->open), read_once(), write_once() and
    release_file() for their kind of entry; this class does the VFS around them."""

    def __init__(self, machine, node, flags: int):
        self.machine, self.node = machine, node
        self.flags = flags  # open(2)'s: O_RDONLY, O_WRONLY or O_RDWR (the access mode)
        self.refs: list = []  # modules whose reference this open holds (module_put at close)
        self.file = 0
        self.inode = inode_of(machine, node)

    def kernel_read_u64(self, address: int, function: str) -> int:
        """A read the kernel's `function` makes of module memory (pde->proc_ops->proc_read):
        memory a module took away with it faults there, and the kernel oopses."""
        from kcourse.machine.address_space import BadAccess
        from kcourse.machine.machine import ModuleFault

        machine = self.machine
        try:
            return machine.space.read_u64(address)
        except BadAccess:
            raise ModuleFault(14, machine.address_of(function), address,
                              machine.cpu.registers()) from None

    # ------------------------------------------------------------------ open
    def new_file(self, f_op: int, private_data: int = 0) -> int:
        space, machine = self.machine.space, self.machine
        file = kernel_block(machine, T.FILE_SIZE)
        access = self.flags & 3
        mode = (FMODE_READ if access != O_WRONLY else 0) | (FMODE_WRITE if access else 0) | \
            FMODE_LSEEK | FMODE_PREAD | FMODE_PWRITE
        if self.node.mode & 0o170000 == 0o100000:
            mode |= FMODE_ATOMIC_POS
        space.write_u64(file + T.FILE_INODE, self.inode)
        space.write_u64(file + FILE_DENTRY, self.node.data["dentry"])
        space.write_u64(file + T.FILE_OP, f_op)
        space.write_u64(file + T.FILE_PRIVATE_DATA, private_data)
        space.write(file + T.FILE_MODE, mode.to_bytes(4, "little"))
        flags = (self.flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC)) | O_LARGEFILE
        space.write(file + FILE_FLAGS, flags.to_bytes(4, "little"))
        self.file = file
        return file

    def opened(self) -> None:
        """do_dentry_open after ->open: FMODE_OPENED, CAN_READ/CAN_WRITE from f_op."""
        fops = u64(self.machine, self.file + T.FILE_OP)
        mode = self.f_mode | FMODE_OPENED
        if fops and mode & FMODE_READ and (u64(self.machine, fops + T.FOPS_READ) or
                                          u64(self.machine, fops + FOPS_READ_ITER)):
            mode |= FMODE_CAN_READ
        if fops and mode & FMODE_WRITE and (u64(self.machine, fops + T.FOPS_WRITE) or
                                           u64(self.machine, fops + FOPS_WRITE_ITER)):
            mode |= FMODE_CAN_WRITE
        if fops and not u64(self.machine, fops + FOPS_LLSEEK):
            mode &= ~FMODE_LSEEK
        self.f_mode = mode

    @property
    def f_mode(self) -> int:
        return int.from_bytes(self.machine.space.read(self.file + T.FILE_MODE, 4), "little")

    @f_mode.setter
    def f_mode(self, value: int) -> None:
        self.machine.space.write(self.file + T.FILE_MODE, value.to_bytes(4, "little"))

    # ------------------------------------------------------------------ read / write
    def _syscall(self, method, buffer: int, count: int) -> int:
        """ksys_read/ksys_write: the method gets &pos, a copy of f_pos."""
        machine = self.machine
        pos = machine.objects.get("ksys_pos")
        if pos is None:
            pos = machine.objects["ksys_pos"] = machine.kernel_alloc(8)
        machine.space.write_u64(pos, machine.space.read_u64(self.file + T.FILE_POS))
        ret = method(buffer, min(count, MAX_RW_COUNT), pos)
        if ret >= 0:
            machine.space.write_u64(self.file + T.FILE_POS, machine.space.read_u64(pos))
        return ret

    def read(self) -> str:
        """What `cat` reads: read(fd, buf, 128 KiB) until it returns 0."""
        if not self.f_mode & FMODE_READ:
            raise KernelErrno(EBADF)
        if not self.f_mode & FMODE_CAN_READ:
            raise KernelErrno(EINVAL)
        memory = uaccess.user_memory_for(self.machine, F.CAT_BUFFER, F.CAT_BUFSIZE)
        out = bytearray()
        for reads in range(1, F.MAX_READS + 2):
            if reads > F.MAX_READS or len(out) > MAX_CAT_BYTES:
                raise limit(f"kcourse: {self.node.path} has given {len(out):,} bytes in "
                            f"{reads - 1:,} reads and has not ended (an endless file?); the "
                            "simulator stops reading it here")
            n = self._syscall(self.read_once, F.CAT_BUFFER, F.CAT_BUFSIZE)
            if n < 0:  # cat has written what it read; then it says the error
                err = KernelErrno(-n)
                err.partial = out.decode("utf-8", "surrogateescape")
                raise err
            if n == 0:
                break
            out += memory.read(F.CAT_BUFFER, min(n, F.CAT_BUFSIZE))
        return out.decode("utf-8", "surrogateescape")

    def read_call(self, count: int) -> bytes:
        """One read(fd, buf, count), as head -c and dd make it: the bytes the method gave
        (KernelErrno when it returned an error)."""
        if not self.f_mode & FMODE_READ:
            raise KernelErrno(EBADF)
        if not self.f_mode & FMODE_CAN_READ:
            raise KernelErrno(EINVAL)
        memory = uaccess.user_memory_for(self.machine, F.CAT_BUFFER, max(count, 1))
        n = self._syscall(self.read_once, F.CAT_BUFFER, count)
        if n < 0:
            raise KernelErrno(-n)
        return memory.read(F.CAT_BUFFER, min(n, count))

    def write(self, text: str) -> int:
        """What bash's `echo text > file` writes: write(1, text, len) until all is taken."""
        if not self.f_mode & FMODE_WRITE:
            raise KernelErrno(EBADF)
        if not self.f_mode & FMODE_CAN_WRITE:
            return -EINVAL
        data = text.encode("utf-8", "surrogateescape")
        comm = self.machine.kernel.current[1]
        buffer = F.CAT_BUFFER if comm == "cat" else F.BASH_HEAP
        uaccess.user_memory_for(self.machine, buffer, max(len(data), 1), data)
        done = 0
        while done < len(data):
            n = self._syscall(self.write_once, buffer + done, len(data) - done)
            if n < 0:
                return n
            if n == 0:  # glibc's write loop (bash's echo) would call again for ever
                raise limit(f"kcourse: {self.node.path}: write(2) took 0 bytes; bash would "
                            "write the rest again for ever")
            done += n
        return done

    # ------------------------------------------------------------------ per kind
    def read_once(self, buffer: int, count: int, ppos: int) -> int:
        raise NotImplementedError

    def write_once(self, buffer: int, count: int, ppos: int) -> int:
        raise NotImplementedError

    def release(self) -> None:
        """__fput: ->release (its value ignored), then the file is freed."""
        self.release_file()
        free_block(self.machine, self.file, T.FILE_SIZE)
        self.file = 0

    def release_file(self) -> None:
        raise NotImplementedError


def call_fops_read(machine, file: int, fops: int, buffer: int, count: int, ppos: int) -> int:
    """vfs_read's choice: ->read, else ->read_iter (seq_read_iter here), else -EINVAL."""
    read = u64(machine, fops + T.FOPS_READ) if fops else 0
    if read:
        return call_int(machine, read, file, buffer, count, ppos)
    read_iter = u64(machine, fops + FOPS_READ_ITER) if fops else 0
    if read_iter:
        return read_iter_at(machine, read_iter, file, buffer, count, ppos)
    return -EINVAL


def read_iter_at(machine, read_iter: int, file: int, buffer: int, count: int,
                 ppos: int) -> int:
    """new_sync_read through ->read_iter: seq_read_iter (DEFINE_PROC_SHOW_ATTRIBUTE's) is
    modelled; a module's own read_iter is not yet."""
    if read_iter == machine.address_of("seq_read_iter"):
        from kcourse.kapi import seq_read

        return seq_read.seq_read_user(machine, file, buffer, count, ppos)
    raise limit(f"kcourse: {machine.symbolize(read_iter) or hex(read_iter)} is a ->read_iter "
                "method, which the simulator does not call yet")


def limit(message: str):
    from kcourse.kernel.kernel import SimulatorLimit

    return SimulatorLimit(f"{message}; run it on the real kernel with `kcourse sim --real`")


def call_fops_write(machine, file: int, fops: int, buffer: int, count: int, ppos: int) -> int:
    write = u64(machine, fops + T.FOPS_WRITE) if fops else 0
    if write:
        return call_int(machine, write, file, buffer, count, ppos)
    write_iter = u64(machine, fops + FOPS_WRITE_ITER) if fops else 0
    if write_iter:
        raise limit(f"kcourse: {machine.symbolize(write_iter) or hex(write_iter)} is a "
                    "->write_iter method, which the simulator does not call yet")
    return -EINVAL
