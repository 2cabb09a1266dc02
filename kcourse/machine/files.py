"""A module's code as the Kernel calls it: init, exit, and the file operations of its devices.

The Kernel asks the module's behavior to init, exit, open, read, write and release; for a
module that runs on the emulated CPU this object makes those calls into the module's own
machine code:
- init/exit: `init_module` / `cleanup_module` (the aliases module_init()/module_exit() make,
  include/linux/module.h), called from do_init_module and delete_module;
- open: misc_open (drivers/char/misc.c) sets file->private_data to the miscdevice and calls
  fops->open(inode, file) if there is one;
- read: what `cat` does: read(fd, buf, 131072) until it returns 0 (coreutils' cat reads
  128 KiB at a time into a page-aligned buffer), each through fops->read(file, buf, count,
  &file->f_pos) as fs/read_write.c vfs_read calls it; a device that never returns 0 is one
  limit line, since the real cat would not end;
- write: what bash's `echo text > /dev/x` does: write(1, "text\n", 5) from its heap, again
  while the module took less than all of it;
- release: fops->release(inode, file) on the last close.
"""

from __future__ import annotations

from kcourse.kapi import chardev, uaccess
from kcourse.kapi.abi import to_c
from kcourse.kernel.errno import KernelErrno
from kcourse.kernel.kernel import SimulatorLimit
from kcourse.machine import tasks as T

# Where the calling process's buffer sits (ASLR-randomised on a real machine): coreutils' cat
# reads into a page-aligned 128 KiB anonymous mapping below the libraries (malloc mmaps above
# its 128 KiB threshold); bash's builtins write from its heap.
CAT_BUFFER, CAT_BUFSIZE = 0x7F3C1A2C3000, 128 * 1024
BASH_HEAP = 0x55D0C4A3B2A0
# A device that never says end-of-file (read() never returns 0, as when it ignores *ppos): a
# real cat reads on until it is killed; the simulator stops after this many reads or bytes
MAX_READS, MAX_READ_BYTES = 4096, 16 << 20
MAX_ERRNO = 4095  # include/linux/err.h: -4095..-1 are errors
EINVAL = 22


class CodeBehavior:
    wants_path = True

    def __init__(self, machine, code):
        self.machine, self.code = machine, code
        self._files: dict[str, list[int]] = {}  # path -> struct file of each open, newest last

    # ------------------------------------------------------------------ init / exit
    def init(self, ctx, path: str = "") -> int:
        address = self.code.address("init_module")
        if address is None:
            return 0
        from kcourse.machine import contexts

        with contexts.initcall(self.machine, address):  # do_one_initcall's checks
            return self._checked(address, "init", to_c(self.machine.call(address), 32, True))

    def _checked(self, fn: int, what: str, ret: int) -> int:
        """A negative result is an error only from -4095 to -1 (MAX_ERRNO), the range glibc's
        system call wrappers take for one (sysdeps/unix/sysv/linux/sysdep.h): what the
        process makes of another negative value is not modelled."""
        if ret < -MAX_ERRNO:
            site = self.machine.symbolize(fn) or f"{fn:#x}"
            raise SimulatorLimit(f"kcourse: {site}: {what} returned {ret}, neither a result "
                                 f"nor -errno (-{MAX_ERRNO}..-1); what user space makes of it "
                                 "is not modelled; run it on the real kernel with "
                                 "`kcourse sim --real`")
        return ret

    def exit(self, ctx, path: str = "") -> None:
        address = self.code.address("cleanup_module")
        if address is not None:
            from kcourse.machine import contexts

            with contexts.exitcall(self.machine, address):  # delete_module's own sleep
                self.machine.call(address)

    # ------------------------------------------------------------------ files
    def _device(self, path: str):
        return chardev.devices(self.machine).get(path.rsplit("/", 1)[-1])

    def _fop(self, device, offset: int) -> int:
        return self.machine.space.read_u64(device.fops + offset) if device.fops else 0

    def open(self, ctx, path: str = "") -> int:
        device = self._device(path)
        if device is None:
            return -19  # -ENODEV: misc_open finds no device with that minor
        space = self.machine.space
        file = self.machine.kernel_alloc(T.FILE_SIZE)
        inode = self.machine.kernel_alloc(T.INODE_SIZE)
        space.write_u64(file + T.FILE_INODE, inode)
        space.write_u64(file + T.FILE_OP, device.fops)
        space.write_u64(file + T.FILE_PRIVATE_DATA, device.address)
        space.write(file + T.FILE_MODE, (T.FMODE_READ | T.FMODE_WRITE).to_bytes(4, "little"))
        self._files.setdefault(path, []).append(file)
        fn = self._fop(device, T.FOPS_OPEN)
        if fn:
            ret = self._checked(fn, "open", to_c(self.machine.call(fn, inode, file), 32, True))
            if ret < 0:
                self._files[path].pop()
            return ret
        return 0

    def release(self, ctx, path: str = "") -> None:
        files = self._files.get(path)
        if not files:
            return
        file = files.pop()
        device = self._device(path)
        fn = self._fop(device, T.FOPS_RELEASE) if device else 0
        if fn:
            self.machine.call(fn, self.machine.space.read_u64(file + T.FILE_INODE), file)

    def _file(self, path: str) -> int:
        return self._files[path][-1]

    def read(self, ctx, path: str = "") -> str:
        device = self._device(path)
        fn = self._fop(device, T.FOPS_READ) if device else 0
        if not fn:
            raise KernelErrno(EINVAL)  # vfs_read: no ->read and no ->read_iter
        memory = uaccess.user_memory_for(self.machine, CAT_BUFFER, CAT_BUFSIZE)
        file = self._file(path)
        pos = file + T.FILE_POS  # f_pos lives in the file: pass its address as loff_t *
        out = bytearray()
        for _ in range(MAX_READS):
            n = to_c(self.machine.call(fn, file, CAT_BUFFER, CAT_BUFSIZE, pos), 64, True)
            if self._checked(fn, "read", n) < 0:
                raise KernelErrno(-n)
            if n == 0:
                return out.decode("utf-8", "surrogateescape")
            out += memory.read(CAT_BUFFER, min(n, CAT_BUFSIZE))
            if len(out) > MAX_READ_BYTES:
                break
        site = self.machine.symbolize(fn) or f"{fn:#x}"
        raise SimulatorLimit(f"kcourse: {path}: {site} gave {len(out):,} bytes without end of "
                             "file (read() never returned 0); a real reader would go on until "
                             "it is killed")

    def write(self, ctx, text: str, path: str = "") -> int:
        device = self._device(path)
        fn = self._fop(device, T.FOPS_WRITE) if device else 0
        if not fn:
            raise KernelErrno(EINVAL)
        data = text.encode("utf-8", "surrogateescape")
        # bash's builtins (echo) write from its heap; cat from its 128 KiB read buffer
        buffer = CAT_BUFFER if self.machine.kernel.current[1] == "cat" else BASH_HEAP
        uaccess.user_memory_for(self.machine, buffer, max(len(data), 1), data)
        file = self._file(path)
        pos = file + T.FILE_POS
        done = 0
        while done < len(data):
            n = self._checked(fn, "write", to_c(self.machine.call(
                fn, file, buffer + done, len(data) - done, pos), 64, True))
            if n < 0:
                return n
            if n == 0:
                break
            done += n
        return done
