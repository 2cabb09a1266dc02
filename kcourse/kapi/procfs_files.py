"""The files of /proc entries: fs/proc/inode.c's proc_reg_* around a module's proc_ops, and
the kernel's own proc_ops of proc_create_single_data and proc_create_seq_private (6.1).

The open file's f_op is the kernel's proc_reg_file_ops (proc_iter_file_ops when the proc_ops
has proc_read_iter), whose methods call the module's proc_ops between use_pde and unuse_pde:
proc_open, proc_read (-EIO without one), proc_write (-EIO without one), proc_release. No
module reference is taken (6.1's proc_ops has no owner): rmmod works while the file is open,
and remove_proc_entry (proc_entry_rundown, kcourse.kapi.procfs) calls proc_release for every
file still open; their reads then fail with -EIO. An entry whose proc_ops sets
PROC_ENTRY_PERMANENT skips all that.
"""

from __future__ import annotations

from kcourse.kapi import seq_file
from kcourse.kapi.registry import function
from kcourse.kapi.vfsfile import (
    FMODE_LSEEK,
    INODE_PRIVATE,
    Handle,
    call_int,
    kernel_fops,
    node_of_inode,
    read_iter_at,
)
from kcourse.kernel import structs as S
from kcourse.kernel.errno import KernelErrno
from kcourse.kernel.nodes import Node

OPS = {name: S.offsetof("proc_ops", name) for name in
       ("proc_flags", "proc_open", "proc_read", "proc_read_iter", "proc_write", "proc_lseek",
        "proc_release")}
EIO, ENOENT, EINVAL = 5, 2, 22


def kernel_proc_ops(machine, name: str, **methods: str) -> int:
    """proc_single_ops / proc_seq_ops: a struct proc_ops of the kernel's, methods at slots."""
    table = machine.objects.setdefault("kernel_proc_ops", {})
    if name not in table:
        address = machine.kernel_alloc(S.sizeof("proc_ops"))
        for member, fn in methods.items():
            machine.space.write_u64(address + OPS[member], machine.address_of(fn))
        table[name] = address
    return table[name]


@function("int proc_single_open(struct inode *inode, struct file *file)", "fs/proc/generic.c")
def proc_single_open(call, inode, file):
    node = node_of_inode(call.machine, inode)
    return seq_file.open_single(call.machine, file, node.data["single_show"],
                                node.data["pdata"])


@function("int proc_seq_open(struct inode *inode, struct file *file)", "fs/proc/generic.c")
def proc_seq_open(call, inode, file):
    node = node_of_inode(call.machine, inode)
    ret = seq_file.seq_open(call, file, node.data["seq_ops"])
    if ret == 0 and node.data["state_size"]:  # seq_open_private: a zeroed state for ->private
        state = call.machine.kernel_alloc(node.data["state_size"])
        seq_file.seq_of(call.machine, file).set("private", state)
    return ret


@function("int proc_seq_release(struct inode *inode, struct file *file)", "fs/proc/generic.c")
def proc_seq_release(call, inode, file):
    seq_file.release(call.machine, file)
    return 0


# ---------------------------------------------------------------- the files
class ProcOps:
    """What serves a /proc file a module made: proc_reg_open and the rest."""

    def __init__(self, machine):
        self.machine = machine

    def open(self, node: Node, flags: int) -> ProcHandle:
        handle = ProcHandle(self.machine, node, flags)
        handle.open_file()
        return handle


class ProcHandle(Handle):
    def _ops(self, member: str) -> int:
        ops = self.node.data["proc_ops"]
        return self.kernel_read_u64(ops + OPS[member], "proc_reg_open") if ops else 0

    def _live(self) -> bool:
        """use_pde: false once remove_proc_entry has begun (permanent entries: always)."""
        return self.node.data.get("permanent") or not self.node.data["removed"]

    def open_file(self) -> None:
        machine, node = self.machine, self.node
        iter_ops = bool(self._ops("proc_read_iter"))
        f_op = kernel_fops(machine, "proc_iter_file_ops", read_iter="proc_reg_read_iter",
                           write="proc_reg_write", open="proc_reg_open",
                           release="proc_reg_release", llseek="proc_reg_llseek") \
            if iter_ops else \
            kernel_fops(machine, "proc_reg_file_ops", read="proc_reg_read",
                        write="proc_reg_write", open="proc_reg_open",
                        release="proc_reg_release", llseek="proc_reg_llseek")
        machine.space.write_u64(self.inode + INODE_PRIVATE, node.data.get("pdata", 0))
        file = self.new_file(f_op)
        if not self._ops("proc_lseek"):
            self.f_mode = self.f_mode & ~FMODE_LSEEK
        if not self._live():
            raise KernelErrno(ENOENT)
        open_fn = self._ops("proc_open")
        rv = call_int(machine, open_fn, self.inode, file, bits=32) if open_fn else 0
        if rv:
            raise KernelErrno(-rv if rv < 0 else EINVAL)
        if not node.data.get("permanent") and self._ops("proc_release"):
            node.data["openers"].append(self)  # pde_opener: to know what to release
        self.opened()

    def read_once(self, buffer: int, count: int, ppos: int) -> int:
        if not self._live():
            return -EIO
        read = self._ops("proc_read")
        if read:
            return call_int(self.machine, read, self.file, buffer, count, ppos)
        read_iter = self._ops("proc_read_iter")
        if read_iter:
            return read_iter_at(self.machine, read_iter, self.file, buffer, count, ppos)
        return -EIO

    def write_once(self, buffer: int, count: int, ppos: int) -> int:
        if not self._live():
            return -EIO
        write = self._ops("proc_write")
        if write:
            return call_int(self.machine, write, self.file, buffer, count, ppos)
        return -EIO

    def close_opener(self) -> None:
        """close_pdeo: ->proc_release once, by the last close or by remove_proc_entry."""
        openers = self.node.data["openers"]
        if self in openers:
            openers.remove(self)
            release = self._ops("proc_release")
            if release:
                self.machine.call(release, self.inode, self.file)

    def release_file(self) -> None:
        if self.node.data.get("permanent"):
            release = self._ops("proc_release")
            if release:
                self.machine.call(release, self.inode, self.file)
            return
        self.close_opener()

