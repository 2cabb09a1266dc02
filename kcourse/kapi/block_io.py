"""The I/O path of a blk-mq disk: its /dev node, the page cache in front of it, and the
requests the block layer hands to the driver's own ->queue_rq.

Opening /dev/<disk> is blkdev_open -> blkdev_get_by_dev (block/bdev.c): -ENXIO for a disk
that is gone, try_module_get(disk->fops->owner), then fops->open(bdev, mode) if there is one
(blkdev_get_whole). The last close (blkdev_put) first writes the dirty pages back
(sync_blockdev), then drops the page cache (blkdev_flush_mapping: kill_bdev), then calls
fops->release(disk, mode).

The page cache is 6.1's for a whole-disk block device whose block size is the page
(set_init_blocksize: 4096 for any disk of a multiple of 4 KiB), modelled simply:
- read(2) is filemap_read over mm/readahead.c's on-demand readahead, with the file's
  readahead state (read_ahead_kb 128: 32 pages): the first window is get_init_ra_size of
  the pages asked for (4 pages for `head -c 14`), the next ones get_next_ra_size, each one
  bio of one bio_vec per page (mpage_readahead), REQ_RAHEAD (the request gets
  REQ_FAILFAST_*: flags 0x80700), a PG_readahead mark `async_size` pages before the end
  starting the next window; a page readahead could not read is read again alone through
  read_folio (flags 0), and read(2) returns what it copied before the page that failed. A
  window larger than the queue's max_sectors (255 by default) is split into requests at
  page boundaries here; Linux splits the bio at 255 sectors, mid-page (REQ_NOMERGE on the
  parts), and the plug merges the leftovers of consecutive windows;
- write(2) copies into the pages (a page it only partly covers is read first, as
  __block_write_begin reads a partly written block) and marks them dirty; they go to the
  driver at the last close, one WRITE|REQ_SYNC request per run of pages, one bio per page
  (submit_bh, merged by the plug); there is no writeback timer (dirty_expire_centisecs);
- reads and writes stop at the disk's end (blkdev_read_iter/blkdev_write_iter: a write
  past it is -ENOSPC, a read there is 0).
- the partition scan of add_disk (disk_scan_partitions -> check_partition) reads, on an
  empty disk, the pages Debian's parsers read: 0 (msdos, efi's MBR, and the others at sector
  0), 1 (amiga's RDB search to sector 15) and 3 (ultrix's label at sector 31), each through
  read_folio: one request, one bio, one page; a partition table found there, or a read
  that fails there, is not modelled (the simulator says so in one line).

A request lives in the tag set's memory (tag 0: one request at a time, the block layer
waits for it), with its pdu after it (blk_mq_rq_to_pdu). The driver must start it
(blk_mq_start_request) and end it (blk_mq_end_request) before ->queue_rq returns: a driver
that completes later, from a work item or an interrupt, is not modelled (one line). A
status other than BLK_STS_OK is printed as blk_print_req_error does (block/blk-mq.c), and
each page's buffer as buffer_io_error does (fs/buffer.c); read(2) then fails with the
status's errno (blk_status_to_errno).
"""

from __future__ import annotations

from kcourse.kapi import block as B
from kcourse.kapi import dma
from kcourse.kapi.vfsfile import free_block, kernel_block, limit
from kcourse.kernel import structs as S
from kcourse.kernel.errno import KernelErrno
from kcourse.machine import threads

PAGE_SIZE, SECTOR = 4096, 512
PAGE_SECTORS = PAGE_SIZE // SECTOR
# The page cache's pages: direct-map pages (so kmap_local_page's page_to_virt of their
# struct page finds them) in a physical range the memory ledger does not use (it hands out
# pages from 4 GiB up).
POOL_PHYS = 0x1000_0000
REQ_OP_READ, REQ_OP_WRITE, REQ_OP_DRV_IN, REQ_OP_DRV_OUT = 0, 1, 34, 35
# include/linux/blk_types.h: the flag bits after the 8 op bits
REQ_FAILFAST_MASK, REQ_SYNC, REQ_RAHEAD = 0x7 << 8, 1 << 11, 1 << 19
RA_PAGES = 32  # VM_READAHEAD_PAGES: 128 KiB (bdi->ra_pages, read_ahead_kb)
IOPRIO_DEFAULT_BE = (2 << 13) | 4  # __get_task_ioprio: nice 0 -> IOPRIO_CLASS_BE, level 4
MQ_RQ_IDLE, MQ_RQ_IN_FLIGHT = 0, 1
BLK_STS_RESOURCE, BLK_STS_DEV_RESOURCE = 9, 13
FMODE_READ, FMODE_WRITE = 0x1, 0x2
ENXIO, EIO, ENOSPC = 6, 5, 28
# block/blk-core.c blk_errors[]: status -> (errno, name)
BLK_ERRORS = {1: (95, "operation not supported"), 2: (110, "timeout"),
              3: (28, "critical space allocation"), 4: (67, "recoverable transport"),
              5: (121, "critical target"), 6: (52, "critical nexus"),
              7: (61, "critical medium"), 8: (84, "protection"), 9: (12, "kernel resource"),
              10: (5, "I/O"), 11: (78, "dm internal retry"), 12: (11, "nonblocking retry"),
              13: (16, "device resource"), 15: (109, "open zones exceeded"),
              16: (75, "active zones exceeded"), 17: (19, "device offline")}
OP_NAMES = {0: "READ", 1: "WRITE"}

RQ = {f: S.offsetof("request", f) for f in (
    "q", "mq_hctx", "cmd_flags", "rq_flags", "tag", "internal_tag", "timeout", "__data_len",
    "__sector", "bio", "biotail", "part", "nr_phys_segments", "ioprio", "state", "deadline")}
BIO = {f: S.offsetof("bio", f) for f in (
    "bi_next", "bi_bdev", "bi_opf", "bi_ioprio", "bi_status", "__bi_remaining", "bi_vcnt",
    "bi_max_vecs", "__bi_cnt", "bi_io_vec")}
ITER = S.offsetof("bio", "bi_iter")
IT = {f: ITER + S.offsetof("bvec_iter", f) for f in ("bi_sector", "bi_size")}
BIO_SIZE, BVEC_SIZE = S.sizeof("bio"), S.sizeof("bio_vec")
BV_LEN, BV_OFFSET = S.offsetof("bio_vec", "bv_len"), S.offsetof("bio_vec", "bv_offset")
BD_SIZE = S.sizeof("blk_mq_queue_data")
BD_LAST = S.offsetof("blk_mq_queue_data", "last")
BDOPS = {f: S.offsetof("block_device_operations", f) for f in ("open", "release", "owner")}
OPEN_MUTEX = S.offsetof("gendisk", "open_mutex")


# ---------------------------------------------------------------- pages
def page_alloc(machine) -> int:
    """A zeroed page of the page cache (its direct-map address); its struct page is mapped
    too, zeroed, where vmemmap puts it."""
    pool = machine.objects.setdefault("blk_free_pages", [])
    if pool:
        address = pool.pop()
    else:
        count = machine.objects.get("blk_pages", 0)
        machine.objects["blk_pages"] = count + 1
        address = dma.PAGE_OFFSET + POOL_PHYS + count * PAGE_SIZE
        machine.space.map(address, PAGE_SIZE)
        machine.space.map(struct_page(address), dma.STRUCT_PAGE)
    machine.space.write(address, bytes(PAGE_SIZE))
    return address


def struct_page(address: int) -> int:
    """virt_to_page: vmemmap_base + pfn * sizeof(struct page)."""
    return dma.VMEMMAP_START + ((address - dma.PAGE_OFFSET) >> 12) * dma.STRUCT_PAGE


def _drop_cache(machine, disk) -> None:
    machine.objects.setdefault("blk_free_pages", []).extend(disk.cache.values())
    disk.cache.clear()
    disk.dirty.clear()
    disk.uptodate.clear()
    disk.marks.clear()


# ---------------------------------------------------------------- requests
def _inflight(machine) -> dict:
    return machine.objects.setdefault("blk_inflight", {})


def submit(machine, disk, op: int, indexes: list[int], *, flags: int = 0,
           bio_per_page: bool = False, last: bool = True, quiet_buffers: bool = False) -> int:
    """One request for the pages `indexes` (consecutive) of the disk, dispatched to the
    driver's ->queue_rq; 0 or -errno (blk_status_to_errno)."""
    space = machine.space
    tagset = disk.tagset
    if tagset is None:  # __blk_alloc_disk's: the driver's ->submit_bio would get bios
        raise limit(f"kcourse: I/O to {disk.name}, a disk without blk-mq: the bios its "
                    "driver's ->submit_bio would get are not modelled")
    rq = tagset.requests[0]
    space.write(rq, bytes(S.sizeof("request")))  # blk_mq_rq_ctx_init; the pdu is kept
    sector = indexes[0] * PAGE_SECTORS
    size = len(indexes) * PAGE_SIZE
    space.write_u64(rq + RQ["q"], disk.queue)
    space.write_u64(rq + RQ["mq_hctx"], disk.hctx)
    rq_flags = flags | (REQ_FAILFAST_MASK if flags & REQ_RAHEAD else 0)  # blk_rq_bio_prep
    B._w32(space, rq + RQ["cmd_flags"], op | rq_flags)
    B._w32(space, rq + RQ["internal_tag"], -1)
    B._w32(space, rq + RQ["timeout"], B._u32(space, disk.queue + B.QUEUE["rq_timeout"]))
    B._w32(space, rq + RQ["__data_len"], size)
    space.write_u64(rq + RQ["__sector"], sector)
    space.write_u64(rq + RQ["part"], disk.bdev)
    space.write(rq + RQ["nr_phys_segments"], len(indexes).to_bytes(2, "little"))
    space.write(rq + RQ["ioprio"], IOPRIO_DEFAULT_BE.to_bytes(2, "little"))
    groups = [[i] for i in indexes] if bio_per_page else [indexes]
    blocks, bios = [], []
    for group in groups:
        bio = kernel_block(machine, BIO_SIZE)
        vecs = kernel_block(machine, BVEC_SIZE * len(group))
        blocks += [(bio, BIO_SIZE), (vecs, BVEC_SIZE * len(group))]
        for n, index in enumerate(group):
            space.write_u64(vecs + n * BVEC_SIZE, struct_page(disk.cache[index]))
            B._w32(space, vecs + n * BVEC_SIZE + BV_LEN, PAGE_SIZE)
        space.write_u64(bio + BIO["bi_bdev"], disk.bdev)
        B._w32(space, bio + BIO["bi_opf"], op | flags)
        space.write(bio + BIO["bi_ioprio"], IOPRIO_DEFAULT_BE.to_bytes(2, "little"))
        B._w32(space, bio + BIO["__bi_remaining"], 1)
        B._w32(space, bio + BIO["__bi_cnt"], 1)
        space.write_u64(bio + IT["bi_sector"], group[0] * PAGE_SECTORS)
        B._w32(space, bio + IT["bi_size"], len(group) * PAGE_SIZE)
        count = len(group).to_bytes(2, "little")
        space.write(bio + BIO["bi_vcnt"], count)
        space.write(bio + BIO["bi_max_vecs"], count)
        space.write_u64(bio + BIO["bi_io_vec"], vecs)
        if bios:
            space.write_u64(bios[-1] + BIO["bi_next"], bio)
        bios.append(bio)
    space.write_u64(rq + RQ["bio"], bios[0])
    space.write_u64(rq + RQ["biotail"], bios[-1])
    bd = kernel_block(machine, BD_SIZE)
    space.write_u64(bd, rq)
    space.write(bd + BD_LAST, b"\x01" if last else b"\x00")  # the plug's last request
    info = _inflight(machine)[rq] = {"started": False, "ended": None}
    queue_rq = space.read_u64(tagset.ops + B.OPS["queue_rq"])
    try:
        ret = machine.call(queue_rq, disk.hctx, bd) & 0xFF
    finally:
        _inflight(machine).pop(rq, None)
        free_block(machine, bd, BD_SIZE)
        for address, length in blocks:
            free_block(machine, address, length)
    site = machine.symbolize(queue_rq) or f"{queue_rq:#x}"
    status = info["ended"]
    if status is None:
        if ret in (BLK_STS_RESOURCE, BLK_STS_DEV_RESOURCE):
            raise limit(f"kcourse: {site} returned BLK_STS_{'DEV_' if ret == 13 else ''}"
                        "RESOURCE: the block layer would dispatch the request again later, "
                        "which the simulator does not model")
        if ret == 0:
            raise limit(f"kcourse: {site} returned without ending the request "
                        "(blk_mq_end_request): completing it later, from a work item or an "
                        "interrupt, is not modelled")
        status = ret  # blk_mq_dispatch_rq_list: blk_mq_end_request(rq, ret)
        info["ended"] = ret
        _print_error(machine, disk, op, rq_flags, sector, len(indexes), ret)
    elif ret:
        raise limit(f"kcourse: {site} ended the request and returned status {ret}, so the "
                    "block layer would end it a second time; not modelled")
    if status:
        if quiet_buffers:  # mpage_end_io: readahead's pages stay !uptodate, nothing printed
            return -BLK_ERRORS.get(status, (EIO, ""))[0]
        which = ", async page read" if op == REQ_OP_READ else ", lost async page write"
        for index in indexes:  # end_buffer_async_read_io / end_buffer_async_write
            machine.kernel.log.printk(f"\0013Buffer I/O error on dev {disk.name}, logical "
                                      f"block {index}{which}\n")
        return -BLK_ERRORS.get(status, (EIO, ""))[0]
    return 0


def _print_error(machine, disk, op: int, flags: int, sector: int, segments: int,
                 status: int) -> None:
    """blk_print_req_error (block/blk-mq.c), from blk_update_request."""
    name = BLK_ERRORS.get(status, (0, "<null>"))[1]
    machine.kernel.log.printk(
        f"\0013{name} error, dev {disk.name}, sector {sector} op {op:#x}:"
        f"({OP_NAMES.get(op, 'UNKNOWN')}) flags {flags:#x} phys_seg {segments} prio class "
        f"{IOPRIO_DEFAULT_BE >> 13}\n")


def _request(call, rq: int, what: str) -> dict:
    info = _inflight(call.machine).get(rq)
    if info is None:
        raise limit(f"kcourse: {call.site} calls {what} on {rq:#x}, which is no request the "
                    "block layer handed to this driver's queue_rq (or one it already ended)")
    return info


def start(call, rq: int) -> None:
    """blk_mq_start_request: WARN_ON_ONCE(state != MQ_RQ_IDLE), then MQ_RQ_IN_FLIGHT."""
    info = _request(call, rq, "blk_mq_start_request")
    space = call.machine.space
    if B._u32(space, rq + RQ["state"]) != MQ_RQ_IDLE:
        from kcourse.kapi import kwarn

        kwarn.warn_on(call, "block/blk-mq.c:1262", "blk_mq_start_request")
    jiffies = call.kernel.memory.jiffies()
    timeout = B._u32(space, rq + RQ["timeout"])
    space.write_u64(rq + RQ["deadline"], (jiffies + timeout) & ((1 << 64) - 1))  # blk_add_timer
    B._w32(space, rq + RQ["state"], MQ_RQ_IN_FLIGHT)
    info["started"] = True


def end(call, rq: int, error: int) -> None:
    """blk_mq_end_request: blk_update_request (which prints an error status), then
    __blk_mq_end_request frees the request (MQ_RQ_IDLE)."""
    info = _request(call, rq, "blk_mq_end_request")
    if info["ended"] is not None:
        raise limit(f"kcourse: {call.site} ends a request a second time; on Linux that is "
                    "a use of a freed request")
    space = call.machine.space
    info["ended"] = error
    if error:
        cmd_flags = B._u32(space, rq + RQ["cmd_flags"])
        op = cmd_flags & 0xFF
        if op not in (REQ_OP_DRV_IN, REQ_OP_DRV_OUT):  # !blk_rq_is_passthrough
            disk = B.disk_of_queue(call.machine, space.read_u64(rq + RQ["q"]))
            segments = int.from_bytes(space.read(rq + RQ["nr_phys_segments"], 2), "little")
            if disk is not None:
                _print_error(call.machine, disk, op, cmd_flags & ~0xFF,
                             space.read_u64(rq + RQ["__sector"]), segments, error)
    B._w32(space, rq + RQ["state"], MQ_RQ_IDLE)


def _max_pages(machine, disk) -> int:
    """Pages per request: the queue's max_sectors and max_segments (blk_queue_split)."""
    space = machine.space
    sectors = B._u32(space, disk.queue + B.LIM["max_sectors"])
    segments = int.from_bytes(space.read(disk.queue + B.LIM["max_segments"], 2), "little")
    pages = min(sectors // PAGE_SECTORS, segments)
    if pages < 1:
        raise limit(f"kcourse: {disk.name}: a queue whose requests are smaller than a page "
                    f"(max_sectors {sectors}) splits each page, which is not modelled")
    return pages


def _runs(indexes: list[int], most: int) -> list[list[int]]:
    runs: list[list[int]] = []
    for index in sorted(indexes):
        if runs and runs[-1][-1] == index - 1 and len(runs[-1]) < most:
            runs[-1].append(index)
        else:
            runs.append([index])
    return runs


def read_folio(machine, disk, index: int) -> int:
    """blkdev_read_folio -> block_read_full_folio: one page, one request (flags 0); 0 or
    -errno. The page joins the cache first (filemap_create_folio) and stays there."""
    if index not in disk.cache:
        disk.cache[index] = page_alloc(machine)
    err = submit(machine, disk, REQ_OP_READ, [index])
    if not err:
        disk.uptodate.add(index)
    return err


def fill(machine, disk, indexes: list[int]) -> int:
    """read_mapping_folio of each page among `indexes` that is not up to date."""
    for index in indexes:
        if index not in disk.uptodate:
            err = read_folio(machine, disk, index)
            if err:
                return err
    return 0


def readahead(machine, disk, start: int, count: int, lookahead: int) -> None:
    """do_page_cache_ra -> page_cache_ra_unbounded: the pages of [start, start+count) not in
    the cache, clamped to the disk's end, PG_readahead on page count - lookahead, read in
    runs of consecutive new pages (read_pages -> mpage_readahead, REQ_RAHEAD)."""
    end_index = (B.capacity(machine, disk) * SECTOR - 1) // PAGE_SIZE
    if start > end_index:
        return
    count = min(count, end_index - start + 1)
    batch: list[int] = []
    batches: list[list[int]] = []
    for i in range(count):
        index = start + i
        if index in disk.cache:
            if batch:
                batches.append(batch)
            batch = []
            continue
        disk.cache[index] = page_alloc(machine)
        if i == count - lookahead:
            disk.marks.add(index)
        batch.append(index)
    if batch:
        batches.append(batch)
    most = _max_pages(machine, disk)
    requests = [run for b in batches for run in _runs(b, most)]
    for n, run in enumerate(requests):
        if not submit(machine, disk, REQ_OP_READ, run, flags=REQ_RAHEAD,
                      last=n == len(requests) - 1, quiet_buffers=True):
            disk.uptodate.update(run)


def _init_ra_size(size: int, most: int) -> int:
    """get_init_ra_size (mm/readahead.c)."""
    new = 1 << max(size - 1, 0).bit_length()  # roundup_pow_of_two
    if new <= most // 32:
        return new * 4
    if new <= most // 4:
        return new * 2
    return most


def _next_ra_size(cur: int, most: int) -> int:
    """get_next_ra_size (mm/readahead.c)."""
    if cur < most // 16:
        return 4 * cur
    if cur <= most // 2:
        return 2 * cur
    return most


class RaState:
    """struct file_ra_state of one open file (file_ra_state_init: prev_pos -1)."""

    def __init__(self):
        self.start = self.size = self.async_size = 0
        self.prev_pos = -1


def ondemand(machine, disk, ra: RaState, index: int, req_size: int, marked: bool) -> None:
    """ondemand_readahead (mm/readahead.c, 6.1): a sequential stream grows its window; a
    read that is neither sequential nor at the start reads just what it asks for."""
    most = RA_PAGES
    prev_index = ((ra.prev_pos - 1) % (1 << 64)) >> 12
    if index and index in (ra.start + ra.size - ra.async_size, ra.start + ra.size):
        ra.start += ra.size
        ra.size = _next_ra_size(ra.size, most)
        ra.async_size = ra.size
    elif index and marked:  # a mark met off the expected place: the next hole, onwards
        start = index + 1
        while start in disk.cache and start - index <= most:
            start += 1
        if start - index > most:
            return
        ra.start, ra.size = start, start - index + req_size
        ra.size = _next_ra_size(ra.size, most)
        ra.async_size = ra.size
    elif index and req_size <= most and (index - prev_index) % (1 << 64) > 1:
        readahead(machine, disk, index, req_size, 0)  # a random read: no window
        return
    else:  # initial
        ra.start, ra.size = index, _init_ra_size(req_size, most)
        ra.async_size = ra.size - req_size if ra.size > req_size else ra.size
    if not marked and index == ra.start and ra.size == ra.async_size:
        add = _next_ra_size(ra.size, most)
        if ra.size + add <= most:
            ra.async_size, ra.size = add, ra.size + add
        else:
            ra.size, ra.async_size = most, most >> 1
    readahead(machine, disk, ra.start, ra.size, ra.async_size)


def get_pages(machine, disk, ra: RaState, index: int, last_index: int) -> list[int] | int:
    """filemap_get_pages: the cached pages from `index` (readahead first when there are
    none), the last one brought up to date; -errno when not even the first one is."""
    def batch() -> list[int]:  # filemap_get_read_batch
        out = []
        for i in range(index, last_index):
            if i not in disk.cache:
                break
            out.append(i)
            if i not in disk.uptodate or i in disk.marks:
                break
        return out

    pages = batch()
    if not pages:
        ondemand(machine, disk, ra, index, last_index - index, False)
        pages = batch()
    if not pages:
        err = read_folio(machine, disk, index)  # filemap_create_folio
        return err or [index]
    last = pages[-1]
    if last in disk.marks:  # filemap_readahead -> page_cache_async_ra
        disk.marks.discard(last)
        ondemand(machine, disk, ra, last, last_index - last, True)
    if last not in disk.uptodate:
        err = read_folio(machine, disk, last)  # filemap_update_page
        if err:
            pages.pop()
            return pages or err
    return pages


def sync(machine, disk) -> int:
    """sync_blockdev: every dirty page to the driver, WRITE|REQ_SYNC (WB_SYNC_ALL)."""
    dirty, disk.dirty = sorted(disk.dirty), set()
    err = 0
    for run in _runs(dirty, _max_pages(machine, disk) if dirty else 1):
        err = submit(machine, disk, REQ_OP_WRITE, run, flags=REQ_SYNC, bio_per_page=True) or err
    return err


def scan_partitions(machine, disk) -> None:
    """disk_scan_partitions(disk, FMODE_READ) on an empty disk: open, the parsers' reads
    (see the module docstring), close. After a read error each parser reads again (the page
    stays !uptodate) and some print: not modelled, one line."""
    handle = BlockOps(machine, disk).open(None, 0, scan=True)
    try:
        sectors = B.capacity(machine, disk)
        for sector in (0, 8, 31):  # msdos & co., amiga, ultrix (read_part_sector)
            if sector < sectors and fill(machine, disk, [sector // PAGE_SECTORS]):
                raise limit(f"kcourse: {disk.name}: add_disk's partition scan could not read "
                            f"sector {sector}; what Debian's partition parsers then read "
                            "again and print is not modelled")
        if _has_table(machine, disk):
            raise limit(f"kcourse: {disk.name} holds a partition table; making its "
                        "partitions is not modelled")
    finally:
        handle.release()


def _has_table(machine, disk) -> bool:
    """msdos_partition's test: the 0x55AA signature at the end of sector 0."""
    page = disk.cache.get(0)
    return page is not None and machine.space.read(page + 510, 2) == b"\x55\xaa"


# ---------------------------------------------------------------- /dev/<disk>
class BlockOps:
    """def_blk_fops.open = blkdev_open, for the /dev node device_add_disk made."""

    def __init__(self, machine, disk):
        self.machine, self.disk = machine, disk

    def open(self, node, flags: int, *, scan: bool = False):
        return BlockHandle(self.machine, self.disk, node, flags, scan)


class BlockHandle:
    def __init__(self, machine, disk, node, flags: int, scan: bool):
        from kcourse.kapi.cdev import module_of_struct

        self.machine, self.disk, self.node = machine, disk, node
        self.refs: list = []
        self.pos = 0
        self.ra = RaState()
        access = flags & 3
        self.mode = FMODE_READ if scan else \
            (FMODE_READ if access != 1 else 0) | (FMODE_WRITE if access else 0)
        if not disk.added and not scan:
            raise KernelErrno(ENXIO)  # blkdev_get_no_open: the disk is gone
        space = machine.space
        fops = space.read_u64(disk.address + B.GENDISK["fops"])
        kernel = machine.kernel
        owner = module_of_struct(machine, space.read_u64(fops + BDOPS["owner"])) if fops \
            else None
        what = f"open {node.path}" if node is not None else f"scan {disk.name}"
        if owner is not None:
            if not kernel.try_module_get(owner, why=what):
                raise KernelErrno(ENXIO)
            self.refs.append(owner)
        self.scan_ref = scan
        open_fn = space.read_u64(fops + BDOPS["open"]) if fops else 0
        if open_fn:
            # blkdev_get_by_dev holds disk->open_mutex around ->open (zram_open checks it)
            mutex = disk.address + OPEN_MUTEX
            space.write_u64(mutex, threads.current_task(machine))
            try:
                ret = B._int(machine.call(open_fn, disk.bdev, self.mode))
            finally:
                space.write_u64(mutex, 0)
            if ret:
                self._put()
                raise KernelErrno(-ret if ret < 0 else EIO)
        disk.openers += 1
        space.write(disk.bdev + B.BDEV["bd_openers"], disk.openers.to_bytes(4, "little"))

    def _put(self) -> None:
        if self.scan_ref:  # the Kernel puts an open file's references; the scan's are ours
            for module in self.refs:
                self.machine.kernel.module_put(module, why=f"scan {self.disk.name}")
            self.refs.clear()

    @property
    def size(self) -> int:
        return B.capacity(self.machine, self.disk) * SECTOR

    def read_call(self, count: int) -> bytes:
        """read(2) once: blkdev_read_iter -> filemap_read; b"" at the end. What was copied
        before a page that failed is returned; a failure first is KernelErrno."""
        if not self.mode & FMODE_READ:
            raise KernelErrno(9)  # EBADF
        count = max(0, min(count, self.size - self.pos))
        out = bytearray()
        end = self.pos + count
        last_index = (end + PAGE_SIZE - 1) // PAGE_SIZE
        while self.pos < end:
            pages = get_pages(self.machine, self.disk, self.ra, self.pos // PAGE_SIZE,
                              last_index)
            if isinstance(pages, int):
                if out:
                    break
                raise KernelErrno(-pages)
            for index in pages:
                offset = self.pos - index * PAGE_SIZE
                n = min(PAGE_SIZE - offset, end - self.pos)
                out += self.machine.space.read(self.disk.cache[index] + offset, n)
                self.pos += n
            self.ra.prev_pos = self.pos
        return bytes(out)

    def read(self) -> str:
        """What cat reads: 128 KiB at a time to the end of the disk (cat writes what it read
        before an error, then says the error)."""
        out = bytearray()
        while True:
            try:
                chunk = self.read_call(128 * 1024)
            except KernelErrno as err:
                err.partial = out.decode("utf-8", "surrogateescape")
                raise
            if not chunk:
                return out.decode("utf-8", "surrogateescape")
            out += chunk

    def write(self, text: str) -> int:
        """write(2) of all of `text` at the file position (blkdev_write_iter)."""
        if not self.mode & FMODE_WRITE:
            raise KernelErrno(9)
        data = text.encode("utf-8", "surrogateescape")
        if self.pos >= self.size and data:
            return -ENOSPC
        data = data[:self.size - self.pos]  # iov_iter_truncate to the disk's end
        done = 0
        while done < len(data):
            index, offset = divmod(self.pos + done, PAGE_SIZE)
            n = min(PAGE_SIZE - offset, len(data) - done)
            if index not in self.disk.uptodate:
                if n < PAGE_SIZE:  # __block_write_begin reads a block it partly covers
                    err = read_folio(self.machine, self.disk, index)
                    if err:
                        return err if not done else done
                else:
                    self.disk.cache.setdefault(index, page_alloc(self.machine))
                    self.disk.uptodate.add(index)
            self.machine.space.write(self.disk.cache[index] + offset, data[done:done + n])
            self.disk.dirty.add(index)
            done += n
        self.pos += done
        return done

    def release(self) -> None:
        """blkdev_close -> blkdev_put: sync on the last close, drop the cache, ->release."""
        disk, machine = self.disk, self.machine
        try:
            if disk.openers == 1 and disk.added:
                sync(machine, disk)
        finally:
            disk.openers -= 1
            machine.space.write(disk.bdev + B.BDEV["bd_openers"],
                                disk.openers.to_bytes(4, "little"))
            if disk.openers == 0:
                _drop_cache(machine, disk)
        fops = machine.space.read_u64(disk.address + B.GENDISK["fops"])
        release_fn = machine.space.read_u64(fops + BDOPS["release"]) if fops else 0
        try:
            if release_fn:
                machine.call(release_fn, disk.address, self.mode)
        finally:
            self._put()
