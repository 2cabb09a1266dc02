"""What block drivers set up besides the disk: the rest of a queue's limits and flags
(block/blk-settings.c, blk-core.c), and ID allocation with an IDR (lib/idr.c), as Debian's
loop uses them for its devices.

An IDR's entries are kept on the Python side, keyed by the address of the module's struct
idr (DEFINE_IDR or idr_init: an empty radix tree, idr_base 0 unless idr_init_base set it);
module code reaches them only through these functions (idr_for_each_entry is idr_get_next).
"""

from __future__ import annotations

from kcourse.kapi import block as B
from kcourse.kapi import kwarn
from kcourse.kapi.registry import function
from kcourse.kernel import structs as S

EINVAL, ENOSPC = 22, 28
INT_MAX = (1 << 31) - 1
BLK_DEF_MAX_SECTORS = 2560  # include/linux/blkdev.h
QUEUE_FLAGS = S.offsetof("request_queue", "queue_flags")
QUEUE_FLAG_HW_WC, QUEUE_FLAG_WC, QUEUE_FLAG_FUA = 13, 17, 18
LIM = {f: B.LIMITS + S.offsetof("queue_limits", f) for f in (
    "max_dev_sectors", "max_hw_discard_sectors", "max_discard_sectors",
    "max_write_zeroes_sectors")}
IDR_BASE = S.offsetof("idr", "idr_base")


def _get(space, q: int, name: str) -> int:
    return B._u32(space, q + (B.LIM.get(name) or LIM[name]))


def _set(space, q: int, name: str, value: int) -> None:
    B._w32(space, q + (B.LIM.get(name) or LIM[name]), value)


@function("void blk_queue_max_hw_sectors(struct request_queue *q, unsigned int max_hw_sectors)",
          "block/blk-settings.c")
def blk_queue_max_hw_sectors(call, q, max_hw_sectors):
    space = call.machine.space
    if (max_hw_sectors << 9) < 4096:
        max_hw_sectors = 8
        call.kernel.log.printk(f"\0016blk_queue_max_hw_sectors: set to minimum {max_hw_sectors}\n")
    step = max(_get(space, q, "logical_block_size") >> 9, 1)
    max_hw_sectors = max_hw_sectors // step * step
    _set(space, q, "max_hw_sectors", max_hw_sectors)
    dev = _get(space, q, "max_dev_sectors")
    max_sectors = min(min(max_hw_sectors, dev) if dev else max_hw_sectors, BLK_DEF_MAX_SECTORS)
    _set(space, q, "max_sectors", max_sectors // step * step)
    # q->disk->bdi->io_pages: the readahead of a large read; not modelled (RA_PAGES stays 32)


@function("void blk_queue_physical_block_size(struct request_queue *q, unsigned int size)",
          "block/blk-settings.c")
def blk_queue_physical_block_size(call, q, size):
    space = call.machine.space
    _set(space, q, "physical_block_size", max(size, _get(space, q, "logical_block_size")))
    if _get(space, q, "io_min") < _get(space, q, "physical_block_size"):
        _set(space, q, "io_min", _get(space, q, "physical_block_size"))


@function("void blk_queue_io_min(struct request_queue *q, unsigned int min)",
          "block/blk-settings.c")
def blk_queue_io_min(call, q, min):  # blk_limits_io_min
    space = call.machine.space
    _set(space, q, "io_min", max(min, _get(space, q, "logical_block_size"),
                                 _get(space, q, "physical_block_size")))


@function("void blk_queue_max_discard_sectors(struct request_queue *q, "
          "unsigned int max_discard_sectors)", "block/blk-settings.c")
def blk_queue_max_discard_sectors(call, q, max_discard_sectors):
    for name in ("max_hw_discard_sectors", "max_discard_sectors"):
        _set(call.machine.space, q, name, max_discard_sectors)


@function("void blk_queue_max_write_zeroes_sectors(struct request_queue *q, "
          "unsigned int max_write_zeroes_sectors)", "block/blk-settings.c")
def blk_queue_max_write_zeroes_sectors(call, q, max_write_zeroes_sectors):
    _set(call.machine.space, q, "max_write_zeroes_sectors", max_write_zeroes_sectors)


def _flag(call, flag: int, q: int, on: bool) -> None:
    space = call.machine.space
    flags = space.read_u64(q + QUEUE_FLAGS)
    space.write_u64(q + QUEUE_FLAGS, flags | 1 << flag if on else flags & ~(1 << flag))


@function("void blk_queue_flag_set(unsigned int flag, struct request_queue *q)",
          "block/blk-core.c")
def blk_queue_flag_set(call, flag, q):
    _flag(call, flag, q, True)


@function("void blk_queue_flag_clear(unsigned int flag, struct request_queue *q)",
          "block/blk-core.c")
def blk_queue_flag_clear(call, flag, q):
    _flag(call, flag, q, False)


@function("void blk_queue_write_cache(struct request_queue *q, bool wc, bool fua)",
          "block/blk-settings.c")
def blk_queue_write_cache(call, q, wc, fua):
    _flag(call, QUEUE_FLAG_HW_WC, q, bool(wc))
    _flag(call, QUEUE_FLAG_WC, q, bool(wc))
    _flag(call, QUEUE_FLAG_FUA, q, bool(fua))


# ---------------------------------------------------------------- IDR
def _idr(call, idr: int) -> dict[int, int]:
    return call.machine.objects.setdefault("idrs", {}).setdefault(idr, {})


@function("int idr_alloc(struct idr *idr, void *ptr, int start, int end, gfp_t gfp)",
          "lib/idr.c")
def idr_alloc(call, idr, ptr, start, end, gfp):
    """The lowest free ID in [start, end) (end <= 0: up to INT_MAX), from idr_base up."""
    if start < 0:
        kwarn.warn_on(call, "lib/idr.c:86", "idr_alloc")  # WARN_ON_ONCE(start < 0)
        return -EINVAL
    table = _idr(call, idr)
    base = B._u32(call.machine.space, idr + IDR_BASE)
    last = end - 1 if end > 0 else INT_MAX
    nid = max(start, base)
    while nid in table:
        nid += 1
    if nid > last:
        return -ENOSPC
    table[nid] = ptr
    return nid


@function("void *idr_find(const struct idr *idr, unsigned long id)", "lib/idr.c")
def idr_find(call, idr, id):
    return _idr(call, idr).get(id, 0)


@function("void *idr_get_next(struct idr *idr, int *nextid)", "lib/idr.c")
def idr_get_next(call, idr, nextid):
    """The entry of the lowest ID >= *nextid that is not NULL; *nextid becomes its ID."""
    space = call.machine.space
    start = B._s32(space, nextid)
    found = sorted(i for i, p in _idr(call, idr).items() if i >= start and p)
    if not found:
        return 0
    B._w32(space, nextid, found[0])
    return _idr(call, idr)[found[0]]


@function("int idr_for_each(const struct idr *idr, int (*fn)(int id, void *p, void *data), "
          "void *data)", "lib/idr.c")
def idr_for_each(call, idr, fn, data):
    """fn(id, entry, data) for each entry in ID order; the first non-zero return ends the
    walk and is returned. An entry removed during the walk is not visited."""
    table = _idr(call, idr)
    for nid in sorted(table):
        if nid not in table or not table[nid]:
            continue
        ret = B._int(call.machine.call(fn, nid, table[nid], data))
        if ret:
            return ret
    return 0


@function("void *idr_remove(struct idr *idr, unsigned long id)", "lib/idr.c")
def idr_remove(call, idr, id):
    return _idr(call, idr).pop(id, 0)


@function("void idr_destroy(struct idr *idr)", "lib/idr.c")
def idr_destroy(call, idr):
    _idr(call, idr).clear()


# ---------------------------------------------------------------- what loop also calls
@function("blk_status_t errno_to_blk_status(int errno)", "block/blk-core.c")
def errno_to_blk_status(call, errno):
    """The first status of blk_errors[] with that errno, else BLK_STS_IOERR."""
    from kcourse.kapi.block_io import BLK_ERRORS

    if errno == 0:
        return 0
    return next((status for status, (e, _name) in sorted(BLK_ERRORS.items())
                 if -e == errno), 10)


@function("int nonseekable_open(struct inode *inode, struct file *filp)", "fs/open.c")
def nonseekable_open(call, inode, filp):
    from kcourse.kapi import vfsfile
    from kcourse.machine import tasks as T

    space = call.machine.space
    mode = B._u32(space, filp + T.FILE_MODE)
    mask = vfsfile.FMODE_LSEEK | vfsfile.FMODE_PREAD | vfsfile.FMODE_PWRITE
    B._w32(space, filp + T.FILE_MODE, mode & ~mask)
    return 0


@function("loff_t noop_llseek(struct file *file, loff_t offset, int whence)", "fs/read_write.c")
def noop_llseek(call, file, offset, whence):
    from kcourse.machine import tasks as T

    return call.machine.space.read_u64(file + T.FILE_POS)


@function("void __module_get(struct module *module)", "kernel/module/main.c")
def __module_get(call, module):
    """A reference taken unconditionally (the caller already holds one)."""
    from kcourse.kapi.cdev import module_of_struct

    mod = module_of_struct(call.machine, module)
    if mod is not None:
        mod.refcnt += 1
        call.kernel.event("get", mod.name, (mod.module_refcount(), call.site))
