// SPDX-License-Identifier: GPL-2.0
/*
 * blkprobe: a 1 MiB blk-mq RAM disk that logs what the block layer hands its queue_rq
 * (op, flags, sector, bytes, and each bio's bio_vecs), and what register_blkdev,
 * blk_mq_alloc_tag_set and the queue's default limits give, for tests/test_kapi_block.py.
 * A request covering sector `bad` (a parameter) ends with BLK_STS_IOERR.
 */
#include <linux/blk-mq.h>
#include <linux/blkdev.h>
#include <linux/highmem.h>
#include <linux/module.h>
#include <linux/vmalloc.h>

#define SECTORS 2048

static long bad = -1;
module_param(bad, long, 0444);

static int major;
static u8 *data;
static struct blk_mq_tag_set set;
static struct gendisk *disk;

static blk_status_t probe_queue_rq(struct blk_mq_hw_ctx *hctx,
				   const struct blk_mq_queue_data *bd)
{
	struct request *rq = bd->rq;
	struct req_iterator iter;
	struct bio_vec bvec;
	struct bio *bio;
	sector_t sector = blk_rq_pos(rq);
	unsigned long offset = sector * 512;
	char vecs[96];
	int n = 0, bios = 0;

	blk_mq_start_request(rq);
	__rq_for_each_bio(bio, rq) {
		bios++;
		if (n < 80)
			n += scnprintf(vecs + n, sizeof(vecs) - n, " %u", bio->bi_vcnt);
	}
	pr_info("blkprobe rq %s flags %#x sector %llu bytes %u segs %u bios %d vecs%s last %d q %d\n",
		rq_data_dir(rq) == WRITE ? "W" : "R", rq->cmd_flags & ~REQ_OP_MASK,
		(unsigned long long)sector, blk_rq_bytes(rq), rq->nr_phys_segments, bios, vecs,
		bd->last, hctx->queue == rq->q);
	if (bad >= 0 && bad >= sector && bad < sector + blk_rq_sectors(rq)) {
		blk_mq_end_request(rq, BLK_STS_IOERR);
		return BLK_STS_OK;
	}
	rq_for_each_segment(bvec, rq, iter) {
		void *buf = kmap_local_page(bvec.bv_page) + bvec.bv_offset;

		if (rq_data_dir(rq) == WRITE)
			memcpy(data + offset, buf, bvec.bv_len);
		else
			memcpy(buf, data + offset, bvec.bv_len);
		kunmap_local(buf);
		offset += bvec.bv_len;
	}
	blk_mq_end_request(rq, BLK_STS_OK);
	return BLK_STS_OK;
}

static const struct blk_mq_ops probe_mq_ops = {
	.queue_rq = probe_queue_rq,
};

static const struct block_device_operations probe_fops = {
	.owner = THIS_MODULE,
};

static int __init blkprobe_init(void)
{
	struct blk_mq_tag_set zero = { .ops = &probe_mq_ops, .nr_hw_queues = 1 };
	struct request_queue *q;
	int ret;

	major = register_blkdev(0, "blkprobe");
	pr_info("blkprobe major %d again %d big %d\n", major, register_blkdev(major, "blkprobe2"),
		register_blkdev(600, "blkprobe3"));
	if (major < 0)
		return major;
	data = vzalloc(SECTORS * 512);
	if (!data) {
		ret = -ENOMEM;
		goto out_major;
	}
	pr_info("blkprobe tagset depth0 %d\n", blk_mq_alloc_tag_set(&zero));
	set.ops = &probe_mq_ops;
	set.nr_hw_queues = 4;
	set.queue_depth = 16;
	set.numa_node = NUMA_NO_NODE;
	set.flags = BLK_MQ_F_SHOULD_MERGE;
	ret = blk_mq_alloc_tag_set(&set);
	pr_info("blkprobe tagset %d nr_hw_queues %u nr_maps %u depth %u\n", ret,
		set.nr_hw_queues, set.nr_maps, set.queue_depth);
	if (ret)
		goto out_data;
	disk = blk_mq_alloc_disk(&set, NULL);
	if (IS_ERR(disk)) {
		ret = PTR_ERR(disk);
		goto out_set;
	}
	q = disk->queue;
	pr_info("blkprobe limits lbs %u pbs %u io_min %u max_sectors %u max_hw %u segs %u seg_size %u depth %u\n",
		queue_logical_block_size(q), queue_physical_block_size(q), queue_io_min(q),
		queue_max_sectors(q), queue_max_hw_sectors(q), queue_max_segments(q),
		queue_max_segment_size(q), q->queue_depth);
	disk->major = major;
	disk->first_minor = 0;
	disk->minors = 1;
	disk->fops = &probe_fops;
	strscpy(disk->disk_name, "blkprobe0", DISK_NAME_LEN);
	set_capacity(disk, SECTORS);
	pr_info("blkprobe capacity %llu\n", (unsigned long long)get_capacity(disk));
	ret = add_disk(disk);
	pr_info("blkprobe added %d\n", ret);
	if (ret)
		goto out_disk;
	return 0;

out_disk:
	put_disk(disk);
out_set:
	blk_mq_free_tag_set(&set);
out_data:
	vfree(data);
out_major:
	unregister_blkdev(major, "blkprobe");
	return ret;
}

static void __exit blkprobe_exit(void)
{
	del_gendisk(disk);
	pr_info("blkprobe deleted capacity %llu\n", (unsigned long long)get_capacity(disk));
	put_disk(disk);
	blk_mq_free_tag_set(&set);
	vfree(data);
	unregister_blkdev(major, "blkprobe");
}

module_init(blkprobe_init);
module_exit(blkprobe_exit);
MODULE_LICENSE("GPL");
