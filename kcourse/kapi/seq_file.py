"""seq_file: sequential files from start/next/stop/show, in fs/seq_file.c's order (6.1).

The struct seq_file is in emulated memory (its layout from the pinned kernel's BTF), so a
module's callbacks see and change the fields they would on the real kernel (m->private,
m->index through the pos pointer, m->count through seq_printf). Here: opening, releasing and
writing records into the buffer (seq_printf/puts/putc/write overflow as seq_vprintf does);
reading is kcourse.kapi.seq_read.

single_open gives a seq_operations of the kernel's own: single_start, single_next and
single_stop, which these models are (reached through the pointers, not called by modules).
"""

from __future__ import annotations

import struct

from kcourse.kapi import printk
from kcourse.kapi.abi import to_c
from kcourse.kapi.registry import function
from kcourse.kapi.vfsfile import free_block, kernel_block
from kcourse.kernel import structs as S
from kcourse.machine import tasks as T

PAGE_SIZE = 4096
MAX_RW_COUNT = 0x7FFFF000
MAX_ERRNO = 4095
SEQ_START_TOKEN = 1
SEQ_FILE_SIZE = S.sizeof("seq_file")
SEQ_OPS_SIZE = S.sizeof("seq_operations")
F = {name: S.offsetof("seq_file", name) for name in
     ("buf", "size", "from", "count", "index", "read_pos", "op", "file", "private")}
OP = {name: S.offsetof("seq_operations", name) for name in ("start", "next", "stop", "show")}


def is_err(p: int) -> bool:
    return p >= (1 << 64) - MAX_ERRNO


def ptr_err(p: int) -> int:
    return p - (1 << 64) if p >= 1 << 63 else p


class SeqFile:
    """A struct seq_file in emulated memory. Its fields are read in one piece and kept until
    module code runs again (start/next/stop/show, through this object), which may change
    them; every write goes to memory at once."""

    def __init__(self, machine, address: int):
        self.machine, self.m = machine, address
        self._cache: list[int] | None = None

    def _fields(self) -> list[int]:
        if self._cache is None:
            self._cache = list(struct.unpack_from(
                f"<{SEQ_FILE_SIZE // 8}Q", self.machine.space.read(self.m, SEQ_FILE_SIZE // 8 *
                                                                      8)))
        return self._cache

    def __getattr__(self, name):
        if name in F:
            value = self._fields()[F[name] // 8]
            return value - (1 << 64) if name in ("index", "read_pos") and value >> 63 else value
        raise AttributeError(name)

    def set(self, name: str, value: int) -> None:
        value &= 0xFFFF_FFFF_FFFF_FFFF
        self.machine.space.write_u64(self.m + F[name], value)
        if self._cache is not None:
            self._cache[F[name] // 8] = value

    # the iterator: op->start/next/stop/show, called as the kernel calls them
    def _op(self, name: str) -> int:
        return self.machine.space.read_u64(self.op + OP[name])

    def _run(self, name: str, *args: int) -> int:
        fn = self._op(name)
        self._cache = None  # module code may change the fields
        try:
            return self.machine.call(fn, self.m, *args)
        finally:
            self._cache = None

    def start(self) -> int:
        return self._run("start", self.m + F["index"])

    def next(self, p: int) -> int:
        return self._run("next", p, self.m + F["index"])

    def stop(self, p: int) -> None:
        self._run("stop", p)

    def show(self, p: int) -> int:
        return to_c(self._run("show", p), 32, True)

    def overflowed(self) -> bool:
        return self.count == self.size

    def alloc_buf(self, size: int) -> bool:
        """seq_buf_alloc (kvmalloc; NULL above MAX_RW_COUNT)."""
        if size > MAX_RW_COUNT:
            self.set("buf", 0)
            return False
        self.set("size", size)
        self.set("buf", kernel_block(self.machine, size))
        return True

    def free_buf(self) -> None:
        free_block(self.machine, self.buf, self.size)
        self.set("buf", 0)


def seq_of(machine, file: int) -> SeqFile:
    return SeqFile(machine, machine.space.read_u64(file + T.FILE_PRIVATE_DATA))


# ---------------------------------------------------------------- open / release
@function("int seq_open(struct file *file, const struct seq_operations *op)", "fs/seq_file.c")
def seq_open(call, file, op):
    machine = call.machine
    if machine.space.read_u64(file + T.FILE_PRIVATE_DATA):
        from kcourse.kapi import kwarn

        kwarn.warn_on(call, "fs/seq_file.c:61", "seq_open")  # WARN_ON(file->private_data)
    m = kernel_block(machine, SEQ_FILE_SIZE)  # kmem_cache_zalloc(seq_file_cache)
    machine.space.write_u64(file + T.FILE_PRIVATE_DATA, m)
    seq = SeqFile(machine, m)
    seq.set("op", op)
    seq.set("file", file)
    mode = int.from_bytes(machine.space.read(file + T.FILE_MODE, 4), "little")
    machine.space.write(file + T.FILE_MODE, (mode & ~0x10).to_bytes(4, "little"))  # ~PWRITE
    return 0


@function("int seq_release(struct inode *inode, struct file *file)", "fs/seq_file.c")
def seq_release(call, inode, file):
    release(call.machine, file)
    return 0


def release(machine, file: int) -> None:
    seq = seq_of(machine, file)
    seq.free_buf()
    free_block(machine, seq.m, SEQ_FILE_SIZE)


@function("void *single_start(struct seq_file *p, loff_t *pos)", "fs/seq_file.c")
def single_start(call, p, pos):
    return 0 if call.machine.space.read_u64(pos) else SEQ_START_TOKEN


@function("void *single_next(struct seq_file *p, void *v, loff_t *pos)", "fs/seq_file.c")
def single_next(call, p, v, pos):
    space = call.machine.space
    space.write_u64(pos, space.read_u64(pos) + 1)
    return 0


@function("void single_stop(struct seq_file *p, void *v)", "fs/seq_file.c")
def single_stop(call, p, v):
    return None


def open_single(machine, file: int, show: int, data: int) -> int:
    """single_open: kmalloc a seq_operations of single_start/next/stop and the show."""
    op = kernel_block(machine, SEQ_OPS_SIZE)
    for name in ("start", "next", "stop"):
        machine.space.write_u64(op + OP[name], machine.address_of(f"single_{name}"))
    machine.space.write_u64(op + OP["show"], show)
    m = kernel_block(machine, SEQ_FILE_SIZE)
    machine.space.write_u64(file + T.FILE_PRIVATE_DATA, m)
    seq = SeqFile(machine, m)
    seq.set("op", op)
    seq.set("file", file)
    seq.set("private", data)
    return 0


@function("int single_open(struct file *file, int (*show)(struct seq_file *, void *), "
          "void *data)", "fs/seq_file.c")
def single_open(call, file, show, data):
    return open_single(call.machine, file, show, data)


@function("int single_release(struct inode *inode, struct file *file)", "fs/seq_file.c")
def single_release(call, inode, file):
    release_single(call.machine, file)
    return 0


def release_single(machine, file: int) -> None:
    op = seq_of(machine, file).op
    release(machine, file)
    free_block(machine, op, SEQ_OPS_SIZE)


# ---------------------------------------------------------------- writing into the buffer
def _overflow(seq: SeqFile) -> None:
    seq.set("count", seq.size)


@function("void seq_printf(struct seq_file *m, const char *f, ...)", "fs/seq_file.c")
def seq_printf(call, m, f):
    """seq_vprintf: vsnprintf into what is left; a record that does not fit overflows."""
    seq = SeqFile(call.machine, m)
    count, size = seq.count, seq.size
    if count < size:
        text = printk.format_call(call, f, size - count - 1)
        call.machine.space.write(seq.buf + count, bytes(text) + b"\0")
        if count + text.length < size:
            seq.set("count", count + text.length)
            return
    _overflow(seq)


@function("void seq_puts(struct seq_file *m, const char *s)", "fs/seq_file.c")
def seq_puts(call, m, s):
    seq = SeqFile(call.machine, m)
    if seq.count + len(s) >= seq.size:
        _overflow(seq)
        return
    call.machine.space.write(seq.buf + seq.count, s)
    seq.set("count", seq.count + len(s))


@function("void seq_putc(struct seq_file *m, char c)", "fs/seq_file.c")
def seq_putc(call, m, c):
    seq = SeqFile(call.machine, m)
    if seq.count >= seq.size:
        return
    call.machine.space.write(seq.buf + seq.count, bytes([c & 0xFF]))
    seq.set("count", seq.count + 1)


@function("int seq_write(struct seq_file *seq, const void *data, size_t len)", "fs/seq_file.c")
def seq_write(call, m, data, length):
    seq = SeqFile(call.machine, m)
    if seq.count + length < seq.size:
        call.machine.space.write(seq.buf + seq.count, call.machine.space.read(data, length))
        seq.set("count", seq.count + length)
        return 0
    _overflow(seq)
    return -1
