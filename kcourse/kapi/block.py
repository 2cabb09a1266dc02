"""Block devices: major numbers and disks (block/genhd.c), blk-mq tag sets, queues and
requests (block/blk-mq.c, blk-settings.c), as a blk-mq driver such as LKMPG's blkram calls
them. The I/O path (the /dev node, the page cache, the requests handed to the driver's
queue_rq) is kcourse.kapi.block_io.

Majors: __register_blkdev (the register_blkdev() macro's call) keeps major_names[] hashed by
major % 255 (BLKDEV_MAJOR_HASH_SIZE); major 0 takes the highest free slot from 254 down, so
the first dynamic block major on the lab's guest is 254 (its only boot-time block major is
259 blkext). /proc/devices' "Block devices:" lists them (kcourse.kernel.chrdevs).

Disks: __blk_mq_alloc_disk (the blk_mq_alloc_disk() macro's call) makes the request_queue
with the default limits (blk_set_default_limits: 512-byte blocks, max_sectors 255,
128 segments of at most 64 KiB), its one hardware context, and the gendisk with its part0
block_device; set_capacity writes bd_nr_sectors and the inode's size; device_add_disk (the
add_disk() inline's call) makes /sys/block/<name> (size, dev, ro, removable, range) and
devtmpfs's /dev/<name>, then scans for partitions as 6.1 does when the capacity is not 0
(block_io.scan_partitions); del_gendisk takes them away, put_disk drops the disk.

Not modelled (each says so in one line when a module needs it): partitions themselves
(a disk with a partition table is read, but no partitions are made), I/O on a queue without
blk-mq (kcourse.kapi.block_bio's blk_alloc_disk: ->submit_bio), more than one hardware
queue's own contexts, elevators.
"""

from __future__ import annotations

import re
import stat
from dataclasses import dataclass, field

from kcourse.kapi import kwarn
from kcourse.kapi.registry import function
from kcourse.kapi.textfile import TextOps
from kcourse.kapi.vfsfile import free_block, kernel_block, limit
from kcourse.kernel import chrdevs as D
from kcourse.kernel import structs as S
from kcourse.kernel.nodes import Node
from kcourse.machine.address_space import OutOfMemory

EINVAL, ENOMEM, EBUSY, ENODEV = 22, 12, 16, 19
BLKDEV_MAJOR_HASH_SIZE, BLKDEV_MAJOR_MAX = 255, 512  # block/genhd.c
BLOCK_EXT_MAJOR = 259
DISK_MAX_PARTS = 256
BLK_MQ_TAG_MIN, BLK_MQ_MAX_DEPTH = 1, 10240  # include/linux/blk-mq.h
NR_CPU_IDS = 1  # the lab's guest: -smp 1
GENHD_FL_HIDDEN, GENHD_FL_NO_PART = 1 << 1, 1 << 2  # include/linux/blkdev.h
GD_NEED_PART_SCAN, GD_DEAD, GD_ADDED, GD_OWNS_QUEUE = 0, 2, 4, 6
MAX_ERRNO = 4095

GENDISK = {f: S.offsetof("gendisk", f) for f in (
    "major", "first_minor", "minors", "disk_name", "part0", "fops", "queue", "private_data",
    "flags", "state", "node_id", "diskseq", "events", "event_flags")}
BDEV = {f: S.offsetof("block_device", f) for f in (
    "bd_nr_sectors", "bd_dev", "bd_inode", "bd_disk", "bd_queue", "bd_openers")}
QUEUE = {f: S.offsetof("request_queue", f) for f in (
    "mq_ops", "queue_depth", "nr_hw_queues", "queuedata", "disk", "tag_set", "nr_requests",
    "rq_timeout")}
LIMITS = S.offsetof("request_queue", "limits")
LIM = {f: LIMITS + S.offsetof("queue_limits", f) for f in (
    "max_hw_sectors", "max_sectors", "max_segment_size", "physical_block_size",
    "logical_block_size", "io_min", "max_segments")}
SET = {f: S.offsetof("blk_mq_tag_set", f) for f in (
    "nr_maps", "ops", "nr_hw_queues", "queue_depth", "reserved_tags", "cmd_size",
    "numa_node", "timeout", "flags", "driver_data", "tags")}
OPS = {f: S.offsetof("blk_mq_ops", f) for f in (
    "queue_rq", "get_budget", "put_budget", "init_hctx", "exit_hctx", "init_request",
    "exit_request")}
HCTX = {f: S.offsetof("blk_mq_hw_ctx", f) for f in ("queue", "driver_data", "queue_num",
                                                     "numa_node")}
INODE_SIZE_AT = S.offsetof("inode", "i_size")
FOPS_FREE_DISK = S.offsetof("block_device_operations", "free_disk")
FOPS_CHECK_EVENTS = S.offsetof("block_device_operations", "check_events")
DISK_EVENT_FLAG_UEVENT = 1 << 1  # include/linux/blkdev.h
RQ_SIZE = S.sizeof("request")
RQS_MAX = 32 << 20  # bytes of requests one tag set may take in the emulated RAM
BLK_DEFAULT_SG_TIMEOUT = 30 * 250  # 30 s in jiffies (HZ=250): blk_mq_init_allocated_queue


def err_ptr(errno: int) -> int:
    return (1 << 64) - errno


@dataclass
class TagSet:
    address: int
    ops: int
    depth: int
    cmd_size: int
    requests: list[int] = field(default_factory=list)  # struct request (+ pdu) per tag
    owner: object = None


@dataclass
class Disk:
    """A gendisk and what the block layer keeps about it on the Python side."""

    address: int
    queue: int
    bdev: int
    hctx: int
    tagset: TagSet
    owner: object
    name: str = ""
    added: bool = False
    added_order: int = 0  # when device_add_disk added it: the block class's order
    openers: int = 0
    cache: dict[int, int] = field(default_factory=dict)  # page index -> page's address
    dirty: set[int] = field(default_factory=set)
    uptodate: set[int] = field(default_factory=set)  # PG_uptodate
    marks: set[int] = field(default_factory=set)  # PG_readahead
    paths: list[str] = field(default_factory=list)


def _u32(space, address: int) -> int:
    return int.from_bytes(space.read(address, 4), "little")


def _s32(space, address: int) -> int:
    return int.from_bytes(space.read(address, 4), "little", signed=True)


def _w32(space, address: int, value: int) -> None:
    space.write(address, (value & 0xFFFFFFFF).to_bytes(4, "little"))


def tagsets(machine) -> dict[int, TagSet]:
    return machine.objects.setdefault("blk_tagsets", {})


def disks(machine) -> dict[int, Disk]:
    return machine.objects.setdefault("blk_disks", {})


def disk_of_queue(machine, q: int) -> Disk | None:
    return next((d for d in disks(machine).values() if d.queue == q), None)


# ---------------------------------------------------------------- major numbers
@function("int __register_blkdev(unsigned int major, const char *name, "
          "void (*probe)(dev_t devt))", "block/genhd.c")
def __register_blkdev(call, major, name, probe):
    table = call.kernel.chrdevs
    text = (name or b"").decode("utf-8", "replace")
    if major == 0:  # "temporary": the highest empty slot of major_names[]
        used = {m % BLKDEV_MAJOR_HASH_SIZE for m, _n, _o in table.block}
        index = next((i for i in range(BLKDEV_MAJOR_HASH_SIZE - 1, 0, -1) if i not in used), 0)
        if index == 0:
            call.kernel.log.printk(f"__register_blkdev: failed to get major for {text}\n")
            return -EBUSY
        major = ret = index
    else:
        ret = 0
    if major >= BLKDEV_MAJOR_MAX:
        call.kernel.log.printk(f"\0013__register_blkdev: major requested ({major}) is greater "
                               f"than the maximum ({BLKDEV_MAJOR_MAX - 1}) for {text}\n")
        return -EINVAL
    if any(m == major for m, _n, _o in table.block):
        call.kernel.log.printk(f"register_blkdev: cannot get major {major} for {text}\n")
        return -EBUSY
    table.block.append((major, text[:15], call.caller))  # strlcpy into name[16]
    return ret


@function("void unregister_blkdev(unsigned int major, const char *name)", "block/genhd.c")
def unregister_blkdev(call, major, name):
    table = call.kernel.chrdevs
    text = (name or b"").decode("utf-8", "replace")
    for entry in table.block:
        if entry[0] == major:
            if entry[1] != text:
                break
            table.block.remove(entry)
            return
    kwarn.warn_on(call, "block/genhd.c:300", "unregister_blkdev")


# ---------------------------------------------------------------- tag sets
@function("int blk_mq_alloc_tag_set(struct blk_mq_tag_set *set)", "block/blk-mq.c")
def blk_mq_alloc_tag_set(call, set):
    machine = call.machine
    space = machine.space
    nr_hw, depth = _u32(space, set + SET["nr_hw_queues"]), _u32(space, set + SET["queue_depth"])
    ops = space.read_u64(set + SET["ops"])
    if not nr_hw or not depth or depth < _u32(space, set + SET["reserved_tags"]) + BLK_MQ_TAG_MIN:
        return -EINVAL
    if not space.read_u64(ops + OPS["queue_rq"]):
        return -EINVAL
    budget = [bool(space.read_u64(ops + OPS[f])) for f in ("get_budget", "put_budget")]
    if budget[0] != budget[1]:
        return -EINVAL
    if depth > BLK_MQ_MAX_DEPTH:
        call.kernel.log.printk(f"\0016blk-mq: reduced tag depth to {BLK_MQ_MAX_DEPTH}\n")
        depth = BLK_MQ_MAX_DEPTH
        _w32(space, set + SET["queue_depth"], depth)
    nr_maps = _u32(space, set + SET["nr_maps"])
    if not nr_maps:
        _w32(space, set + SET["nr_maps"], 1)
    elif nr_maps > 3:  # HCTX_MAX_TYPES
        return -EINVAL
    if nr_hw > NR_CPU_IDS and (nr_maps or 1) == 1:
        _w32(space, set + SET["nr_hw_queues"], NR_CPU_IDS)
    cmd_size = _u32(space, set + SET["cmd_size"])
    tags = machine.kernel_alloc(8 * NR_CPU_IDS)
    space.write_u64(set + SET["tags"], tags)
    tagset = TagSet(set, ops, depth, cmd_size, owner=call.caller)
    tagsets(machine)[set] = tagset
    init_request = space.read_u64(ops + OPS["init_request"])
    numa = _s32(space, set + SET["numa_node"])
    # blk_mq_alloc_rqs: every request of the depth, each followed by its cmd_size pdu, then
    # ->init_request(set, rq, hctx_idx, numa_node) for each (blk_mq_init_request). The block
    # layer here uses one request at a time (tag 0): without ->init_request only that one is
    # made. More than RQS_MAX bytes of requests is one line (the emulated RAM is bounded).
    count = depth if init_request else 1
    for _tag in range(count):
        try:
            if (RQ_SIZE + cmd_size) * count > RQS_MAX:
                raise OutOfMemory
            rq = kernel_block(machine, RQ_SIZE + cmd_size)
        except OutOfMemory:
            _unset(machine, set, 0)
            raise limit(f"kcourse: {call.site} asks for {count:,} requests of "
                        f"{RQ_SIZE + cmd_size:,} bytes, more than the simulator gives a tag "
                        f"set ({RQS_MAX >> 20} MiB)") from None
        tagset.requests.append(rq)
        if init_request:
            ret = _int(machine.call(init_request, set, rq, 0, numa & 0xFFFFFFFF))
            if ret:
                return _unset(machine, set, -ENOMEM)  # blk_mq_alloc_set_map_and_rqs
    return 0


def _unset(machine, set: int, ret: int) -> int:
    tagset = tagsets(machine).pop(set)
    for rq in tagset.requests:
        free_block(machine, rq, RQ_SIZE + tagset.cmd_size)
    machine.space.write_u64(set + SET["tags"], 0)
    return ret


def _int(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >> 31 else value


@function("void blk_mq_free_tag_set(struct blk_mq_tag_set *set)", "block/blk-mq.c")
def blk_mq_free_tag_set(call, set):
    tagset = tagsets(call.machine).get(set)
    if tagset is None:
        return
    exit_request = call.machine.space.read_u64(tagset.ops + OPS["exit_request"])
    if exit_request:
        for rq in tagset.requests:
            call.machine.call(exit_request, set, rq, 0)
    _unset(call.machine, set, 0)


# ---------------------------------------------------------------- disks and queues
@function("struct gendisk *__blk_mq_alloc_disk(struct blk_mq_tag_set *set, void *queuedata, "
          "struct lock_class_key *lkclass)", "block/blk-mq.c")
def __blk_mq_alloc_disk(call, set, queuedata, lkclass):
    machine = call.machine
    space = machine.space
    tagset = tagsets(machine).get(set)
    if tagset is None:
        raise limit(f"kcourse: {call.site} makes a disk on a tag set that "
                    "blk_mq_alloc_tag_set did not set up")
    q = machine.kernel_alloc(S.sizeof("request_queue"))
    space.write_u64(q + QUEUE["mq_ops"], tagset.ops)
    space.write_u64(q + QUEUE["queuedata"], queuedata)
    space.write_u64(q + QUEUE["tag_set"], set)
    # q->queue_depth stays 0 (blk_set_queue_depth is the driver's), nr_requests the depth
    _w32(space, q + QUEUE["nr_hw_queues"], 1)
    space.write_u64(q + QUEUE["nr_requests"], tagset.depth)
    timeout = _u32(space, set + SET["timeout"]) or BLK_DEFAULT_SG_TIMEOUT
    _w32(space, q + QUEUE["rq_timeout"], timeout)
    for name, value in (("max_hw_sectors", 255), ("max_sectors", 255),  # BLK_SAFE_MAX_SECTORS
                        ("max_segment_size", 65536), ("physical_block_size", 512),
                        ("logical_block_size", 512), ("io_min", 512)):
        _w32(space, q + LIM[name], value)
    space.write(q + LIM["max_segments"], (128).to_bytes(2, "little"))  # BLK_MAX_SEGMENTS
    # the one hardware context (blk_mq_init_hctx), and ->init_hctx(hctx, driver_data, 0)
    hctx = machine.kernel_alloc(S.sizeof("blk_mq_hw_ctx"))
    space.write_u64(hctx + HCTX["queue"], q)
    init_hctx = space.read_u64(tagset.ops + OPS["init_hctx"])
    if init_hctx and _int(machine.call(init_hctx, hctx,
                                       space.read_u64(set + SET["driver_data"]), 0)):
        return err_ptr(ENOMEM)  # blk_mq_realloc_hw_ctxs fails: blk_mq_init_queue_data -ENOMEM
    # __alloc_disk_node: the gendisk, its part0 and part0's inode (the bdev inode)
    disk = machine.kernel_alloc(S.sizeof("gendisk"))
    bdev = machine.kernel_alloc(S.sizeof("block_device"))
    inode = machine.kernel_alloc(S.sizeof("inode"))
    space.write_u64(disk + GENDISK["part0"], bdev)
    space.write_u64(disk + GENDISK["queue"], q)
    space.write(disk + GENDISK["node_id"], _s32(space, set + SET["numa_node"]).to_bytes(
        4, "little", signed=True))
    space.write_u64(disk + GENDISK["state"], 1 << GD_OWNS_QUEUE)
    seq = machine.objects["diskseq"] = machine.objects.get("diskseq", 0) + 1  # inc_diskseq
    space.write_u64(disk + GENDISK["diskseq"], seq)  # the guest has no disk of its own: 1 first
    space.write_u64(bdev + BDEV["bd_disk"], disk)
    space.write_u64(bdev + BDEV["bd_queue"], q)
    space.write_u64(bdev + BDEV["bd_inode"], inode)
    space.write_u64(q + QUEUE["disk"], disk)
    disks(machine)[disk] = Disk(disk, q, bdev, hctx, tagset, call.caller)
    return disk


def _disk(call, disk: int, what: str) -> Disk:
    found = disks(call.machine).get(disk)
    if found is None:
        raise limit(f"kcourse: {call.site} passes {disk:#x} to {what} as a struct gendisk, "
                    "which is no disk __blk_mq_alloc_disk made")
    return found


@function("void blk_queue_logical_block_size(struct request_queue *q, unsigned int size)",
          "block/blk-settings.c")
def blk_queue_logical_block_size(call, q, size):
    space = call.machine.space
    _w32(space, q + LIM["logical_block_size"], size)
    if _u32(space, q + LIM["physical_block_size"]) < size:
        _w32(space, q + LIM["physical_block_size"], size)
    if _u32(space, q + LIM["io_min"]) < _u32(space, q + LIM["physical_block_size"]):
        _w32(space, q + LIM["io_min"], _u32(space, q + LIM["physical_block_size"]))
    step = max(size >> 9, 1)
    for name in ("max_hw_sectors", "max_sectors"):  # round_down to whole blocks
        _w32(space, q + LIM[name], _u32(space, q + LIM[name]) // step * step)


@function("void set_capacity(struct gendisk *disk, sector_t sectors)", "block/genhd.c")
def set_capacity(call, disk, sectors):
    space = call.machine.space
    bdev = space.read_u64(disk + GENDISK["part0"])
    space.write_u64(bdev + BDEV["bd_nr_sectors"], sectors)
    inode = space.read_u64(bdev + BDEV["bd_inode"])
    space.write_u64(inode + INODE_SIZE_AT, (sectors << 9) & ((1 << 64) - 1))  # i_size_write


def capacity(machine, disk: Disk) -> int:
    """get_capacity: bdev_nr_sectors(disk->part0)."""
    return machine.space.read_u64(disk.bdev + BDEV["bd_nr_sectors"])


@function("int device_add_disk(struct device *parent, struct gendisk *disk, "
          "const struct attribute_group **groups)", "block/genhd.c")
def device_add_disk(call, parent, disk, groups):
    from kcourse.kapi import block_io

    d = _disk(call, disk, "device_add_disk")
    machine, kernel = call.machine, call.kernel
    space = machine.space
    major, minors = _s32(space, disk + GENDISK["major"]), _s32(space, disk + GENDISK["minors"])
    first_minor = _s32(space, disk + GENDISK["first_minor"])
    if major:
        if not minors:
            kwarn.warn_on(call, "block/genhd.c:446", "device_add_disk")
            return -EINVAL
        if minors > DISK_MAX_PARTS:
            kernel.log.printk(f"\0013block: can't allocate more than {DISK_MAX_PARTS} "
                              "partitions\n")
            minors = DISK_MAX_PARTS
            _w32(space, disk + GENDISK["minors"], minors)
        if not 0 <= first_minor <= D.MINORMASK or first_minor + minors > D.MINORMASK + 1:
            return -EINVAL
    else:
        if minors:
            kwarn.warn_on(call, "block/genhd.c:459", "device_add_disk")
            return -EINVAL
        major, first_minor = BLOCK_EXT_MAJOR, _ext_minor(machine)
        _w32(space, disk + GENDISK["major"], major)
        _w32(space, disk + GENDISK["first_minor"], first_minor)
    name = space.read_cstring(disk + GENDISK["disk_name"], 32).decode("utf-8", "replace")
    sysdir = f"/sys/block/{name}"
    if not name or "/" in name or kernel.nodes.get(sysdir) is not None:
        raise limit(f"kcourse: {call.site} adds a disk named {name!r}, which "
                    + ("is taken" if name else "is empty")
                    + "; the kernel's duplicate-name report is not modelled")
    flags = _s32(space, disk + GENDISK["flags"])
    hidden = bool(flags & GENHD_FL_HIDDEN)
    devt = D.mkdev(major, first_minor)
    space.write(d.bdev + BDEV["bd_dev"], devt.to_bytes(4, "little"))
    d.name = name
    if not hidden:
        _sysfs(call, d, sysdir, major, first_minor, minors)
        if groups:  # device_add -> device_add_groups(ddev, disk's groups)
            from kcourse.kapi import block_bio

            error = block_bio.add_groups(call, d, sysdir, groups)
            if error:
                kernel.nodes.remove(sysdir)
                d.paths.clear()
                return error
        devpath = f"/dev/{name}"
        if kernel.nodes.get(devpath) is None and name not in kernel.devices:
            kernel.nodes.add(Node(devpath, stat.S_IFBLK | 0o600, owner=call.caller,
                                  ops=block_io.BlockOps(machine, d), rdev=devt))
            d.paths.append(devpath)
    d.added = True
    d.added_order = machine.objects["disks_added"] = machine.objects.get("disks_added", 0) + 1
    state = space.read_u64(disk + GENDISK["state"]) | 1 << GD_ADDED
    space.write_u64(disk + GENDISK["state"], state)
    if not hidden and capacity(machine, d) and not flags & GENHD_FL_NO_PART:
        block_io.scan_partitions(machine, d)  # disk_scan_partitions(disk, FMODE_READ)
    return 0


def _ext_minor(machine) -> int:
    """blk_alloc_ext_minor: the lowest free minor of BLOCK_EXT_MAJOR (an ida)."""
    used = {_u32(machine.space, d.address + GENDISK["first_minor"])
            for d in disks(machine).values() if d.added
            and _u32(machine.space, d.address + GENDISK["major"]) == BLOCK_EXT_MAJOR}
    return next(i for i in range(len(used) + 1) if i not in used)


def _sysfs(call, d: Disk, sysdir: str, major: int, minor: int, minors: int) -> None:
    """/sys/block/<name> (a link to /sys/devices/virtual/block/<name> on Linux; a directory
    here) with these of disk_attrs (block/genhd.c, block/disk-events.c), the device's dev
    and uevent, and the empty holders/ and slaves/; the others Linux has there (stat, whose
    I/O counters are not kept; the bdi and subsystem links; queue/, mq/, integrity/,
    power/, trace/) are not made."""
    from kcourse.kapi import block_loop

    kernel, machine = call.kernel, call.machine
    owner = call.caller
    kernel.nodes.add(Node(sysdir, stat.S_IFDIR | 0o755, owner=owner))
    d.paths.append(sysdir)
    ro = 0o444
    space = machine.space

    def flags() -> int:
        return _s32(space, d.address + GENDISK["flags"])

    def seq() -> int:
        return space.read_u64(d.address + GENDISK["diskseq"])
    files = {
        "size": lambda: f"{capacity(machine, d)}\n",  # part_size_show: bdev_nr_sectors
        "dev": lambda: f"{major}:{minor}\n",  # print_dev_t
        "ro": lambda: f"{int(block_loop.disk_ro(machine, d.address))}\n",  # disk_ro_show
        "removable": lambda: "0\n",  # disk_removable_show: GENHD_FL_REMOVABLE
        "range": lambda: f"{minors}\n",  # disk_range_show
        "ext_range": lambda: f"{1 if flags() & GENHD_FL_NO_PART else DISK_MAX_PARTS}\n",
        "hidden": lambda: f"{1 if flags() & GENHD_FL_HIDDEN else 0}\n",
        "alignment_offset": lambda: "0\n",  # bdev_alignment_offset: limits.alignment_offset
        "discard_alignment": lambda: "0\n",
        "diskseq": lambda: f"{seq()}\n",
        "capability": lambda: f"{flags():x}\n",  # disk_capability_show: disk->flags
        "events": lambda: _events(space, d.address),  # block/disk-events.c
        "events_async": lambda: "",  # disk_events_async_show returns 0
        "events_poll_msecs": lambda: "-1\n",  # no disk->ev, or its poll_msecs -1 as set
        # part_inflight_show: requests end inside ->queue_rq here, so none is in flight
        # when a read of this file runs
        "inflight": lambda: f"{0:8} {0:8}\n",
        # device_add's uevent: dev_uevent's MAJOR, MINOR, DEVNAME, DEVTYPE; block_uevent's
        "uevent": lambda: f"MAJOR={major}\nMINOR={minor}\nDEVNAME={d.name}\nDEVTYPE=disk\n"
                          f"DISKSEQ={seq()}\n",
    }
    writers = {"uevent": lambda text: None,
               "events_poll_msecs": lambda text: _poll_msecs_store(space, d.address, text)}
    for fname, reader in files.items():
        writer = writers.get(fname)
        mode = 0o644 if writer else ro
        kernel.nodes.add(Node(f"{sysdir}/{fname}", stat.S_IFREG | mode, owner=owner, size=4096,
                              ops=TextOps(reader, writer, kernfs=True)))
    for sub in ("holders", "slaves"):  # bd_holder_dir, slave_dir: empty (no holders here)
        kernel.nodes.add(Node(f"{sysdir}/{sub}", stat.S_IFDIR | 0o755, owner=owner))


def _events(space, disk: int) -> str:
    """disk_events_show: the names of disk->events, if disk->event_flags asks for uevents."""
    if not _u32(space, disk + GENDISK["event_flags"]) & DISK_EVENT_FLAG_UEVENT:
        return ""
    events = _u32(space, disk + GENDISK["events"])
    names = [name for bit, name in enumerate(("media_change", "eject_request"))
             if events & 1 << bit]
    return " ".join(names) + "\n" if names else ""


def _poll_msecs_store(space, disk: int, text: str) -> None:
    """disk_events_poll_msecs_store: a number (sscanf "%ld"), -1 or >= 0; -ENODEV without
    disk->ev (disk_alloc_events makes one only for a driver with ->check_events)."""
    from kcourse.kernel.errno import KernelErrno

    match = re.match(r"\s*([-+]?\d+)", text)
    if not text or match is None:
        raise KernelErrno(EINVAL)
    if int(match.group(1)) < -1:
        raise KernelErrno(EINVAL)
    fops = space.read_u64(disk + GENDISK["fops"])
    if not fops or not space.read_u64(fops + FOPS_CHECK_EVENTS) or \
            not _u32(space, disk + GENDISK["events"]):
        raise KernelErrno(ENODEV)
    raise limit("kcourse: a disk's media-change polling interval (disk->ev) is not modelled")


@function("void del_gendisk(struct gendisk *disk)", "block/genhd.c")
def del_gendisk(call, disk):
    from kcourse.kapi import block_io

    d = _disk(call, disk, "del_gendisk")
    space = call.machine.space
    state = space.read_u64(disk + GENDISK["state"])
    if not d.added:  # WARN_ON_ONCE(!disk_live(disk) && !(disk->flags & GENHD_FL_HIDDEN))
        if not _s32(space, disk + GENDISK["flags"]) & GENHD_FL_HIDDEN:
            kwarn.warn_on(call, "block/genhd.c:625", "del_gendisk")
        return
    block_io.sync(call.machine, d)  # fsync_bdev, then __invalidate_device
    d.cache.clear()
    space.write_u64(disk + GENDISK["state"], state | 1 << GD_DEAD)  # GD_ADDED stays set
    set_capacity(call, disk, 0)
    for path in reversed(d.paths):
        call.kernel.nodes.remove(path)
    d.paths.clear()
    d.added = False
    if state & 1 << GD_OWNS_QUEUE:  # blk_mq_exit_queue: ->exit_hctx(hctx, 0)
        _exit_hctx(call, d)


def _exit_hctx(call, d: Disk) -> None:
    if d.tagset is None:  # a disk without blk-mq (kcourse.kapi.block_bio) has no hctx
        return
    exit_hctx = call.machine.space.read_u64(d.tagset.ops + OPS["exit_hctx"])
    if exit_hctx:
        call.machine.call(exit_hctx, d.hctx, 0)


@function("void put_disk(struct gendisk *disk)", "block/genhd.c")
def put_disk(call, disk):
    if not disk:
        return
    d = disks(call.machine).get(disk)
    if d is None:
        return
    if d.added:  # the device's last reference with the disk still added
        raise limit(f"kcourse: {call.site} puts a disk that is still added (no del_gendisk "
                    "first); what Linux does then is not modelled")
    # disk_release: a disk never added exits its queue here; one that was added calls
    # fops->free_disk (where loop frees its loop_device)
    space = call.machine.space
    del disks(call.machine)[disk]
    if not space.read_u64(disk + GENDISK["state"]) & 1 << GD_ADDED:
        _exit_hctx(call, d)
        return
    fops = space.read_u64(disk + GENDISK["fops"])
    free_disk = space.read_u64(fops + FOPS_FREE_DISK) if fops else 0
    if free_disk:
        call.machine.call(free_disk, disk)


# ---------------------------------------------------------------- requests
@function("void blk_mq_start_request(struct request *rq)", "block/blk-mq.c")
def blk_mq_start_request(call, rq):
    from kcourse.kapi import block_io

    block_io.start(call, rq)


@function("void blk_mq_end_request(struct request *rq, blk_status_t error)", "block/blk-mq.c")
def blk_mq_end_request(call, rq, error):
    from kcourse.kapi import block_io

    block_io.end(call, rq, error & 0xFF)
