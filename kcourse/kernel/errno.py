"""Syscall failures as Python exceptions carrying Linux errno values.

A syscall of the simulated kernel returns 0 or raises KernelErrno(errno). The number is
Linux's (include/uapi/asm-generic/errno-base.h, errno.h); the message is glibc's strerror,
which is what kmod prints after "could not insert module X: " for codes it does not map.
"""

from __future__ import annotations

import errno as _errno
import os

from kcourse.errors import KcourseError

EPERM = 1
ENOENT = 2
ENOEXEC = 8
EAGAIN = EWOULDBLOCK = 11
ENOMEM = 12
EACCES = 13
EFAULT = 14
EBUSY = 16
EEXIST = 17
ENODEV = 19
ENOTDIR = 20
EISDIR = 21
EINVAL = 22
ENOSPC = 28
EROFS = 30
ENOKEY = 126
EKEYREJECTED = 129
EBADMSG = 74
EBADF = 9

assert EKEYREJECTED == getattr(_errno, "EKEYREJECTED", 129)


class KernelErrno(KcourseError):
    """A syscall failed with -errno. `kernel_msg` is a short note for views (optional)."""

    def __init__(self, errno: int, kernel_msg: str | None = None):
        self.errno = errno
        self.kernel_msg = kernel_msg
        super().__init__(os.strerror(errno))

    @property
    def name(self) -> str:
        return _errno.errorcode.get(self.errno, str(self.errno))

    def __repr__(self) -> str:
        return f"KernelErrno({self.name})"
