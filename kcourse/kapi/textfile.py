"""Files whose text the kernel itself makes (a device's `dev` and `uevent` in sysfs, debugfs's
value files): no struct file and no module method, only the text of each read and what a
write does.
"""

from __future__ import annotations

from kcourse.kernel.errno import KernelErrno

EINVAL, EACCES = 22, 13


class TextOps:
    """A file whose text the kernel itself makes: reader() gives the text of each read from
    the start, writer(text) takes a write. kernfs files (a device's `dev` and `uevent`)
    refuse to open for writing without a writer (-EACCES, even for root); other files open
    and fail the read or write itself with `missing` (-EINVAL: vfs_read without ->read;
    -EACCES: simple_attr without get or set)."""

    def __init__(self, reader, writer=None, *, kernfs: bool = False, missing: int = EINVAL):
        self.reader, self.writer, self.kernfs, self.missing = reader, writer, kernfs, missing

    def may_open(self, node, flags: int) -> int:
        return EACCES if self.kernfs and flags & 3 and self.writer is None else 0

    def open(self, node, flags: int):
        err = self.may_open(node, flags)
        if err:
            raise KernelErrno(err)
        return _TextHandle(self, node)


class _TextHandle:
    def __init__(self, ops: TextOps, node):
        self.ops, self.node, self.refs = ops, node, []

    def read(self) -> str:
        if self.ops.reader is None:
            raise KernelErrno(self.ops.missing)
        return self.ops.reader()

    def write(self, text: str) -> int:
        if self.ops.writer is None:
            return -self.ops.missing
        self.ops.writer(text)
        return len(text)

    def release(self) -> None:
        return None
