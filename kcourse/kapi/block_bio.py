"""A disk without blk-mq, as zram makes one: __blk_alloc_disk (the blk_alloc_disk() macro's
call, block/genhd.c), the rest of its queue limits (blk_queue_io_opt, block/blk-settings.c),
the sysfs attribute groups a driver hands add_disk (block/genhd.c device_add_disk ->
device_add -> device_add_groups; drivers/base/core.c dev_attr_show/dev_attr_store), and
sync_blockdev (block/bdev.c), which zram_remove calls before it resets a device.

blk_alloc_disk makes the request_queue without mq_ops (blk_alloc_queue: the default limits
of blk_set_default_limits, as kcourse.kapi.block's blk-mq disks have), the gendisk with its
part0 block_device (bdev_alloc: its bd_stats a per-CPU struct disk_stats) and part0's
inode; the disk owns its queue (GD_OWNS_QUEUE). It goes through kcourse.kapi.block's
set_capacity, device_add_disk, del_gendisk and put_disk like a blk-mq disk.

The attribute groups become files of /sys/block/<disk> (kcourse.kapi.sysfs): the disk's
struct device is part0's bd_device (disk_to_dev), whose kobject's sysfs_ops is dev_sysfs_ops,
so reading one runs the attribute's show(dev, attr, buf) and writing its store.

Not modelled: I/O on such a disk (the bios ->submit_bio would get: kcourse.kapi.block_io
stops with one line), and a disk's queue/ directory and the other sysfs entries
kcourse.kapi.block lists as not made.
"""

from __future__ import annotations

from kcourse.kapi import block as B
from kcourse.kapi import block_io, percpu, sysfs
from kcourse.kapi.registry import function
from kcourse.kapi.vfsfile import limit
from kcourse.kernel import structs as S

PAGE_SIZE = 4096
BD_DEVICE = S.offsetof("block_device", "bd_device")
BD_STATS = S.offsetof("block_device", "bd_stats")
DEVICE_KOBJ = S.offsetof("device", "kobj")
DEV_ATTR = {f: S.offsetof("device_attribute", f) for f in ("show", "store")}
IO_OPT = B.LIMITS + S.offsetof("queue_limits", "io_opt")
EIO = 5
GFP_KERNEL = 0xCC0


@function("struct gendisk *__blk_alloc_disk(int node, struct lock_class_key *lkclass)",
          "block/genhd.c")
def __blk_alloc_disk(call, node, lkclass):
    machine = call.machine
    space = machine.space
    q = machine.kernel_alloc(S.sizeof("request_queue"))  # blk_alloc_queue(node)
    for name, value in (("max_hw_sectors", 255), ("max_sectors", 255),  # BLK_SAFE_MAX_SECTORS
                        ("max_segment_size", 65536), ("physical_block_size", 512),
                        ("logical_block_size", 512), ("io_min", 512)):
        B._w32(space, q + B.LIM[name], value)
    space.write(q + B.LIM["max_segments"], (128).to_bytes(2, "little"))  # BLK_MAX_SEGMENTS
    disk = machine.kernel_alloc(S.sizeof("gendisk"))  # __alloc_disk_node
    bdev = machine.kernel_alloc(S.sizeof("block_device"))  # bdev_alloc(disk, 0)
    inode = machine.kernel_alloc(S.sizeof("inode"))
    stats = percpu.__alloc_percpu_gfp(call, S.sizeof("disk_stats"), 8, GFP_KERNEL)
    space.write_u64(bdev + BD_STATS, stats)  # alloc_percpu(struct disk_stats)
    space.write_u64(disk + B.GENDISK["part0"], bdev)
    space.write_u64(disk + B.GENDISK["queue"], q)
    space.write(disk + B.GENDISK["node_id"], (node & 0xFFFFFFFF).to_bytes(4, "little"))
    space.write_u64(disk + B.GENDISK["state"], 1 << B.GD_OWNS_QUEUE)  # blk_alloc_disk
    seq = machine.objects["diskseq"] = machine.objects.get("diskseq", 0) + 1  # inc_diskseq
    space.write_u64(disk + B.GENDISK["diskseq"], seq)
    space.write_u64(bdev + B.BDEV["bd_disk"], disk)
    space.write_u64(bdev + B.BDEV["bd_queue"], q)
    space.write_u64(bdev + B.BDEV["bd_inode"], inode)
    space.write_u64(q + B.QUEUE["disk"], disk)
    B.disks(machine)[disk] = B.Disk(disk, q, bdev, 0, None, call.caller)
    return disk


@function("void blk_queue_io_opt(struct request_queue *q, unsigned int opt)",
          "block/blk-settings.c")
def blk_queue_io_opt(call, q, opt):
    """blk_limits_io_opt; the disk's readahead becomes max(io_opt * 2 pages, 32 pages),
    which is 32 pages (the default) for any io_opt below 64 KiB: not kept beyond that."""
    B._w32(call.machine.space, q + IO_OPT, opt)
    if opt * 2 // PAGE_SIZE > block_io.RA_PAGES:
        raise limit(f"kcourse: {call.site} sets an optimal I/O size of {opt} bytes, which "
                    "would grow the disk's readahead; the simulator keeps 128 KiB")


def add_groups(call, d: B.Disk, sysdir: str, groups: int) -> int:
    """device_add -> device_add_attrs -> device_add_groups(dev, dev->groups): the groups'
    files in /sys/block/<disk>, through dev_sysfs_ops. 0 or -errno."""
    kobj = d.bdev + BD_DEVICE + DEVICE_KOBJ
    call.kernel.nodes.get(sysdir).data["kobj"] = kobj  # the directory is the device's (kobj->sd)
    sysfs.stand_in(call, kobj, sysdir, dev_sysfs_ops(call.machine))
    return sysfs.create_groups(call, kobj, groups)


def dev_sysfs_ops(machine) -> int:
    """dev_sysfs_ops (drivers/base/core.c): show/store through the device_attribute."""
    return sysfs.ops_table(machine, "dev_attr_show", "dev_attr_store")


@function("ssize_t dev_attr_show(struct kobject *kobj, struct attribute *attr, char *buf)",
          "drivers/base/core.c")
def dev_attr_show(call, kobj, attr, buf):
    show = call.machine.space.read_u64(attr + DEV_ATTR["show"])
    if not show:
        return -EIO
    ret = _ssize(call.machine.call(show, kobj - DEVICE_KOBJ, attr, buf))
    if ret >= PAGE_SIZE:
        name = call.machine.symbolize(show) or hex(show)
        call.kernel.log.printk(f"dev_attr_show: {name} returned bad count\n")
    return ret


@function("ssize_t dev_attr_store(struct kobject *kobj, struct attribute *attr, "
          "const char *buf, size_t count)", "drivers/base/core.c")
def dev_attr_store(call, kobj, attr, buf, count):
    store = call.machine.space.read_u64(attr + DEV_ATTR["store"])
    if not store:
        return -EIO
    return _ssize(call.machine.call(store, kobj - DEVICE_KOBJ, attr, call.raw(2), count))


def _ssize(value: int) -> int:
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >> 63 else value


@function("int sync_blockdev(struct block_device *bdev)", "block/bdev.c")
def sync_blockdev(call, bdev):
    """filemap_write_and_wait of the disk's page cache: its dirty pages to the driver."""
    if not bdev:
        return 0
    d = next((d for d in B.disks(call.machine).values() if d.bdev == bdev), None)
    if d is None:
        raise limit(f"kcourse: {call.site} passes sync_blockdev() {bdev:#x}, which is no "
                    "disk's block device here (partitions are not modelled)")
    return block_io.sync(call.machine, d)
