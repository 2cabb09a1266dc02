"""What else Debian's loop calls: a disk's read-only flag and size changes (block/genhd.c),
sysfs_emit (fs/sysfs/file.c), and, declared so that loop's init and exit run, the functions
of what the simulator does not do with a loop device.

loop_init/loop_add and loop_exit/loop_remove (drivers/block/loop.c:2003-2300) reach only
modelled functions (tests/test_kapi_block.py holds `modprobe loop` to the real kernel's
recording). Binding a loop device to a backing file (LOOP_CONFIGURE, LOOP_SET_FD and the
other ioctls of /dev/loopN and /dev/loop-control: the shell has no ioctl) and the I/O of a
bound device (its work items, cgroup writeback, the backing file's reads and writes) are not
modelled: those functions stop with one line if they are ever called. Two data symbols are
declared for the same reason: blkcg_root_css (a pointer loop only compares with a request's
css, which only bio_blkcg_css, a stop, gives) and memory_cgrp_subsys (whose address only
cgroup_get_e_css, a stop, takes).
"""

from __future__ import annotations

from kcourse.kapi import block as B
from kcourse.kapi import kwarn, printk
from kcourse.kapi.kobject import printk_pointer
from kcourse.kapi.registry import data, function
from kcourse.kapi.stops import declare

GD_READ_ONLY = 1
BD_READ_ONLY = B.S.offsetof("block_device", "bd_read_only")
PAGE_SIZE = 4096
WHY = {"bind": "a loop device bound to a backing file (LOOP_CONFIGURE, LOOP_SET_FD) is not "
               "modelled",
       "io": "the I/O of a bound loop device (work items, the backing file) is not modelled"}


def disk_ro(machine, disk: int) -> bool:
    """get_disk_ro (include/linux/blkdev.h): part0's bd_read_only or GD_READ_ONLY."""
    space = machine.space
    bdev = space.read_u64(disk + B.GENDISK["part0"])
    return bool(space.read(bdev + BD_READ_ONLY, 1)[0]) or \
        bool(space.read_u64(disk + B.GENDISK["state"]) & 1 << GD_READ_ONLY)


@function("void set_disk_ro(struct gendisk *disk, bool read_only)", "block/genhd.c")
def set_disk_ro(call, disk, read_only):
    """GD_READ_ONLY set or cleared (the DISK_RO uevent it sends has no listener here)."""
    space = call.machine.space
    state = space.read_u64(disk + B.GENDISK["state"])
    bit = 1 << GD_READ_ONLY
    space.write_u64(disk + B.GENDISK["state"], state | bit if read_only else state & ~bit)


@function("bool set_capacity_and_notify(struct gendisk *disk, sector_t size)",
          "block/genhd.c")
def set_capacity_and_notify(call, disk, size):
    d = B.disks(call.machine).get(disk)
    space = call.machine.space
    capacity = space.read_u64(space.read_u64(disk + B.GENDISK["part0"]) +
                              B.BDEV["bd_nr_sectors"])
    B.set_capacity(call, disk, size)
    hidden = B._s32(space, disk + B.GENDISK["flags"]) & B.GENHD_FL_HIDDEN
    if size == capacity or d is None or not d.added or hidden:
        return 0
    name = space.read_cstring(disk + B.GENDISK["disk_name"], 32).decode("utf-8", "replace")
    call.kernel.log.printk(f"\0016{name}: detected capacity change from {capacity} to "
                           f"{size}\n")  # pr_info_ratelimited (no pr_fmt in genhd.c)
    return 1 if capacity and size else 0  # the RESIZE=1 uevent was sent


@function("int sysfs_emit(char *buf, const char *fmt, ...)", "fs/sysfs/file.c")
def sysfs_emit(call, buf, fmt):
    if not buf or buf % PAGE_SIZE:
        shown = printk_pointer(call, buf) if buf else "(null)"  # %p of NULL
        kwarn.warn(call, "fs/sysfs/file.c:740", "sysfs_emit", f"invalid sysfs_emit: buf:{shown}")
        return 0
    text = bytes(printk.format_call(call, fmt, PAGE_SIZE - 1))  # vscnprintf
    call.machine.space.write(buf, text + b"\0")
    return len(text)


STOPS = (
    ("bind", "struct file *fget(unsigned int fd)", "fs/file.c"),
    ("bind", "void fput(struct file *file)", "fs/file_table.c"),
    ("bind", "char *file_path(struct file *filp, char *buf, int buflen)", "fs/d_path.c"),
    ("bind", "void path_get(const struct path *path)", "fs/namei.c"),
    ("bind", "void path_put(const struct path *path)", "fs/namei.c"),
    ("bind", "int vfs_getattr(const struct path *path, struct kstat *stat, u32 request_mask, "
             "unsigned int query_flags)", "fs/stat.c"),
    ("bind", "int vfs_statfs(const struct path *path, struct kstatfs *buf)", "fs/statfs.c"),
    ("bind", "struct block_device *I_BDEV(struct inode *inode)", "block/bdev.c"),
    ("bind", "int bd_prepare_to_claim(struct block_device *bdev, void *holder)",
     "block/bdev.c"),
    ("bind", "void bd_abort_claiming(struct block_device *bdev, void *holder)", "block/bdev.c"),
    ("bind", "int bdev_disk_changed(struct gendisk *disk, bool invalidate)",
     "block/partitions/core.c"),
    ("bind", "bool disk_force_media_change(struct gendisk *disk, unsigned int events)",
     "block/disk-events.c"),
    ("bind", "void invalidate_bdev(struct block_device *bdev)", "block/bdev.c"),
    ("bind", "void invalidate_disk(struct gendisk *disk)", "block/genhd.c"),
    ("bind", "void blk_mq_freeze_queue(struct request_queue *q)", "block/blk-mq.c"),
    ("bind", "void blk_mq_unfreeze_queue(struct request_queue *q)", "block/blk-mq.c"),
    ("bind", "int kobject_uevent(struct kobject *kobj, enum kobject_action action)",
     "lib/kobject_uevent.c"),
    ("io", "int vfs_fsync(struct file *file, int datasync)", "fs/sync.c"),
    ("io", "ssize_t vfs_iter_read(struct file *file, struct iov_iter *iter, loff_t *ppos, "
           "rwf_t flags)", "fs/read_write.c"),
    ("io", "ssize_t vfs_iter_write(struct file *file, struct iov_iter *iter, loff_t *ppos, "
           "rwf_t flags)", "fs/read_write.c"),
    ("io", "void iov_iter_bvec(struct iov_iter *i, unsigned int direction, "
           "const struct bio_vec *bvec, unsigned long nr_segs, size_t count)", "lib/iov_iter.c"),
    ("io", "void zero_fill_bio(struct bio *bio)", "block/bio.c"),
    ("io", "void blk_mq_complete_request(struct request *rq)", "block/blk-mq.c"),
    ("io", "void blk_mq_requeue_request(struct request *rq, bool kick_requeue_list)",
     "block/blk-mq.c"),
    ("io", "bool blk_update_request(struct request *rq, blk_status_t error, "
           "unsigned int nr_bytes)", "block/blk-mq.c"),
    ("io", "struct cgroup_subsys_state *bio_blkcg_css(struct bio *bio)", "block/blk-cgroup.c"),
    ("io", "struct cgroup_subsys_state *cgroup_get_e_css(struct cgroup *cgroup, "
           "struct cgroup_subsys *ss)", "kernel/cgroup/cgroup.c"),
    ("io", "void kthread_associate_blkcg(struct cgroup_subsys_state *css)", "kernel/kthread.c"),
    ("io", "bool __percpu_down_read(struct percpu_rw_semaphore *sem, bool try)",
     "kernel/locking/percpu-rwsem.c"),
    ("io", "int rcuwait_wake_up(struct rcuwait *w)", "kernel/exit.c"),
)
for _why, _prototype, _source in STOPS:
    declare([(_prototype, _source)], WHY[_why], f": {WHY[_why]}", __name__)


@data("struct cgroup_subsys_state * const blkcg_root_css", "block/blk-cgroup.c", 8)
def blkcg_root_css(machine, address):
    css = machine.kernel_alloc(256)  # &blkcg_root.css: loop only compares it
    return css.to_bytes(8, "little")


@data("struct cgroup_subsys memory_cgrp_subsys", "mm/memcontrol.c", 256)
def memory_cgrp_subsys(machine, address):
    return bytes(256)  # loop only passes its address to cgroup_get_e_css (a stop)
