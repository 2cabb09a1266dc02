"""Reading a seq_file: seq_read, seq_lseek and seq_read_iter's loop (fs/seq_file.c, 6.1).

seq_read_iter is mirrored line by line: a read at offset 0 restarts the iterator; a read
anywhere but read_pos traverse()s from the start; the buffer starts at PAGE_SIZE and doubles
(kvfree, a new buffer, start() again) whenever one record does not fit; after the first
record more are added while they fit and the reader wants more; every record shown advances
the iterator once, and a ->next that does not move the index gets the kernel's "buggy .next
function" line and is moved on (pr_info_ratelimited: the first 10 lines in each 5 s window).
What is read goes to the calling process's buffer (kcourse.kapi.uaccess).
"""

from __future__ import annotations

from kcourse.kapi import uaccess
from kcourse.kapi.registry import function
from kcourse.kapi.seq_file import PAGE_SIZE, SeqFile, is_err, ptr_err, seq_of
from kcourse.kernel import uaccess as U
from kcourse.machine import tasks as T

ENOMEM, EINVAL, EFAULT, EAGAIN = 12, 22, 14, 11
RATELIMIT_BURST, RATELIMIT_USEC = 10, 5_000_000  # DEFAULT_RATELIMIT_BURST, _INTERVAL


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
