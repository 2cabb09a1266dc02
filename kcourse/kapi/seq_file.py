"""seq_file: sequential files from start/next/stop/show, in fs/seq_file.c's order (6.1).

The struct seq_file is in emulated memory (its layout from the pinned kernel's BTF), so a
module's callbacks see and change the fields they would on the real kernel (m->private,
m->index through the pos pointer, m->count through seq_printf). seq_read_iter is mirrored
line by line: a read at offset 0 restarts the iterator; a read anywhere but read_pos
traverse()s from the start; the buffer starts at PAGE_SIZE and doubles (kvfree, a new
buffer, start() again) whenever one record does not fit; after the first record more are
added while they fit and the reader wants more; every record shown advances the iterator
once, and a ->next that does not move the index gets the kernel's "buggy .next function"
line and is moved on (pr_info_ratelimited: the first 10 lines in each 5 s window).

single_open gives a seq_operations of the kernel's own: single_start, single_next and
single_stop, which these models are (reached through the pointers, not called by modules).
"""

from __future__ import annotations

from kcourse.kapi import printk, uaccess
from kcourse.kapi.registry import function
from kcourse.kapi.vfsfile import call_int, free_block, kernel_block
from kcourse.kernel import structs as S
from kcourse.kernel import uaccess as U
from kcourse.machine import tasks as T

PAGE_SIZE = 4096
MAX_RW_COUNT = 0x7FFFF000
ENOMEM, EINVAL, EFAULT, EAGAIN = 12, 22, 14, 11
MAX_ERRNO = 4095
SEQ_START_TOKEN = 1
SEQ_FILE_SIZE = S.sizeof("seq_file")
SEQ_OPS_SIZE = S.sizeof("seq_operations")
F = {name: S.offsetof("seq_file", name) for name in
     ("buf", "size", "from", "count", "index", "read_pos", "op", "file", "private")}
OP = {name: S.offsetof("seq_operations", name) for name in ("start", "next", "stop", "show")}
RATELIMIT_BURST, RATELIMIT_USEC = 10, 5_000_000  # DEFAULT_RATELIMIT_BURST, _INTERVAL


def is_err(p: int) -> bool:
    return p >= (1 << 64) - MAX_ERRNO


def ptr_err(p: int) -> int:
    return p - (1 << 64) if p >= 1 << 63 else p


class SeqFile:
    """A struct seq_file in emulated memory, read and written field by field."""

    def __init__(self, machine, address: int):
        self.machine, self.m = machine, address

    def __getattr__(self, name):
        if name in F:
            value = self.machine.space.read_u64(self.m + F[name])
            return value - (1 << 64) if name in ("index", "read_pos") and value >> 63 else value
        raise AttributeError(name)

    def set(self, name: str, value: int) -> None:
        self.machine.space.write_u64(self.m + F[name], value & 0xFFFF_FFFF_FFFF_FFFF)

    # the iterator: op->start/next/stop/show, called as the kernel calls them
    def _op(self, name: str) -> int:
        return self.machine.space.read_u64(self.op + OP[name])

    def start(self) -> int:
        return self.machine.call(self._op("start"), self.m, self.m + F["index"])

    def next(self, p: int) -> int:
        return self.machine.call(self._op("next"), self.m, p, self.m + F["index"])

    def stop(self, p: int) -> None:
        self.machine.call(self._op("stop"), self.m, p)

    def show(self, p: int) -> int:
        return call_int(self.machine, self._op("show"), self.m, p, bits=32)

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


# ---------------------------------------------------------------- reading
def traverse(seq: SeqFile, offset: int) -> int:
    """fs/seq_file.c traverse: run the iterator from the start up to `offset`."""
    pos, error = 0, 0
    seq.set("index", 0)
    seq.set("count", 0)
    seq.set("from", 0)
    if not offset:
        return 0
    if not seq.buf and not seq.alloc_buf(PAGE_SIZE):
        return -ENOMEM
    p = seq.start()
    while p:
        error = ptr_err(p)
        if is_err(p):
            break
        error = seq.show(p)
        if error < 0:
            break
        if error:
            error = 0
            seq.set("count", 0)
        if seq.overflowed():
            seq.stop(p)
            seq.free_buf()
            seq.set("count", 0)
            return -ENOMEM if not seq.alloc_buf(seq.size << 1) else -EAGAIN
        p = seq.next(p)
        if pos + seq.count > offset:
            seq.set("from", offset - pos)
            seq.set("count", seq.count - (offset - pos))
            break
        pos += seq.count
        seq.set("count", 0)
        if pos == offset:
            break
    seq.stop(p)
    return error


def _copy_out(seq: SeqFile, start: int, n: int, to: int) -> int:
    """copy_to_iter of n bytes of the buffer to user memory at `to`: how many went."""
    data = seq.machine.space.read(seq.buf + start, n)
    return n - U.copy_to_user(uaccess.user_memory(_Call(seq.machine)), to, data)


class _Call:  # what uaccess.user_memory wants: something with .machine
    def __init__(self, machine):
        self.machine = machine


def _buggy_next(seq: SeqFile) -> None:
    machine = seq.machine
    state = machine.objects.setdefault("seq_ratelimit", {"begin": None, "printed": 0})
    now = machine.kernel.clock.usec
    if state["begin"] is None or now - state["begin"] >= RATELIMIT_USEC:
        state["begin"], state["printed"] = now, 0
    if state["printed"] < RATELIMIT_BURST:
        state["printed"] += 1
        name = (machine.symbolize(seq._op("next")) or "").split("+", 1)[0]
        module = machine.symbolize(seq._op("next")) or ""
        tag = module[module.find(" ["):] if " [" in module else ""
        machine.kernel.log.printk(f"\0016seq_file: buggy .next function {name}{tag} did not "
                                  "update position index\n")


def seq_read_user(machine, file: int, to: int, size: int, ppos: int) -> int:
    """seq_read (seq_read_iter with one iovec): `size` bytes to user address `to`, from the
    position *ppos, which is moved on by what was copied."""
    space = machine.space
    if not size:
        return 0
    seq = seq_of(machine, file)
    ki_pos = int.from_bytes(space.read(ppos, 8), "little", signed=True)
    copied, err = 0, 0
    if ki_pos == 0:
        seq.set("index", 0)
        seq.set("count", 0)
    if ki_pos != seq.read_pos:
        while (err := traverse(seq, ki_pos)) == -EAGAIN:
            pass
        if err:
            seq.set("read_pos", 0)
            seq.set("index", 0)
            seq.set("count", 0)
            return _done(seq, ppos, ki_pos, copied, err)
        seq.set("read_pos", ki_pos)
    if not seq.buf and not seq.alloc_buf(PAGE_SIZE):
        return _done(seq, ppos, ki_pos, copied, -ENOMEM)
    if seq.count:  # something left in the buffer: copy it out first
        n = _copy_out(seq, getattr(seq, "from"), min(seq.count, size), to)
        seq.set("count", seq.count - n)
        seq.set("from", getattr(seq, "from") + n)
        copied += n
        if seq.count:
            return _done(seq, ppos, ki_pos, copied, err)
    seq.set("from", 0)
    p = seq.start()
    while True:  # get a non-empty record in the buffer
        err = ptr_err(p)
        if not p or is_err(p):
            break
        err = seq.show(p)
        if err < 0:
            break
        if err:
            seq.set("count", 0)
        if not seq.count:
            p = seq.next(p)
            continue
        if not seq.overflowed():
            return _fill(seq, p, to, size, copied, ppos, ki_pos)
        seq.stop(p)  # need a bigger buffer
        seq.free_buf()
        seq.set("count", 0)
        if not seq.alloc_buf(seq.size << 1):
            return _done(seq, ppos, ki_pos, copied, -ENOMEM)
        p = seq.start()
    seq.stop(p)  # EOF or an error
    seq.set("count", 0)
    return _done(seq, ppos, ki_pos, copied, err)


def _fill(seq: SeqFile, p: int, to: int, size: int, copied: int, ppos: int, ki_pos: int):
    """The Fill: label: more records while they fit and the reader wants more."""
    left = size - copied
    while True:
        offs, pos = seq.count, seq.index
        p = seq.next(p)
        if pos == seq.index:
            _buggy_next(seq)
            seq.set("index", seq.index + 1)
        if not p or is_err(p):
            break
        if seq.count >= left:
            break
        err = seq.show(p)
        if err > 0:
            seq.set("count", offs)
        elif err or seq.overflowed():
            seq.set("count", offs)
            break
    seq.stop(p)
    n = _copy_out(seq, 0, min(seq.count, left), to + copied)
    copied += n
    seq.set("count", seq.count - n)
    seq.set("from", n)
    return _done(seq, ppos, ki_pos, copied, 0)


def _done(seq: SeqFile, ppos: int, ki_pos: int, copied: int, err: int) -> int:
    if not copied:
        return -EFAULT if seq.count else err
    seq.machine.space.write(ppos, (ki_pos + copied).to_bytes(8, "little", signed=True))
    seq.set("read_pos", seq.read_pos + copied)
    return copied


@function("ssize_t seq_read(struct file *file, char *buf, size_t size, loff_t *ppos)",
          "fs/seq_file.c")
def seq_read(call, file, buf, size, ppos):
    return seq_read_user(call.machine, file, buf, size, ppos)


@function("loff_t seq_lseek(struct file *file, loff_t offset, int whence)", "fs/seq_file.c")
def seq_lseek(call, file, offset, whence):
    machine = call.machine
    seq = seq_of(machine, file)
    if whence == 1:  # SEEK_CUR
        offset += int.from_bytes(machine.space.read(file + T.FILE_POS, 8), "little",
                                 signed=True)
    elif whence != 0:  # SEEK_SET
        return -EINVAL
    if offset < 0:
        return -EINVAL
    retval = offset
    if offset != seq.read_pos:
        while (retval := traverse(seq, offset)) == -EAGAIN:
            pass
        if retval:
            for name in ("read_pos", "index", "count"):
                seq.set(name, 0)
            machine.space.write_u64(file + T.FILE_POS, 0)
            return retval
        seq.set("read_pos", offset)
    machine.space.write(file + T.FILE_POS, offset.to_bytes(8, "little", signed=True))
    return offset


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
