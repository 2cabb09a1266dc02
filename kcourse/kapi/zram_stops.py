"""Functions Debian's zram calls only once a zram disk is in use, declared so that its init,
exit and sysfs files run; each stops with one line if it is called. And crypto_has_alg
(crypto/api.c), which comp_algorithm's write asks, modelled for the compressors the lab's
kernel has built in.

drivers/block/zram/zram_drv.c zram_init, zram_add, zram_remove and zram_exit reach none of
the stops. A zram disk gets a size by a write of /sys/block/zramN/disksize (disksize_store:
zram_meta_alloc -> zs_create_pool, which stops at register_shrinker, kcourse.kapi.
zsmalloc_stops; then zcomp_create -> the compressor's transforms, crypto_alloc_base), and
only a disk with a size does I/O (zram_submit_bio: bios, page reads and writes, the
compressor's compress and decompress, I/O accounting). A write of backing_dev opens a
backing file (filp_open, blkdev_get_by_dev); the debugfs file block_state prints a time
only for a page that holds data (ns_to_timespec64) and is seekable only through lseek(2)
(default_llseek), which the shell has no command for. fs_bio_set is only passed to
bio_alloc_bioset (a stop).

crypto_has_alg(name, type, mask), as crypto_has_comp asks it (CRYPTO_ALG_TYPE_COMPRESS):
1 for a compressor the lab's kernel has built in (/proc/crypto's type "compression" by name
or driver name: tests/data/zram/crypto.expected), 0 for a name no module provides either
(crypto_alg_mod_lookup's request_module("crypto-<name>") finds nothing). A compressor
Debian builds as a module (CONFIG_CRYPTO_LZ4=m, LZ4HC=m, ZSTD=m) would be loaded by that
request_module: that is not modelled (one line).
"""

from __future__ import annotations

from kcourse.kapi.registry import data, function
from kcourse.kapi.stops import declare
from kcourse.kapi.vfsfile import limit
from kcourse.kernel import structs as S

CRYPTO_ALG_TYPE_MASK, CRYPTO_ALG_TYPE_COMPRESS = 0xF, 0x2  # include/linux/crypto.h
# /proc/crypto on the lab's guest, type "compression": name -> driver
BUILTIN_COMPRESSION = {"lzo-rle": "lzo-rle-generic", "lzo": "lzo-generic",
                       "deflate": "deflate-generic", "compress_null": "compress_null-generic"}
MODULAR_COMPRESSION = ("lz4", "lz4hc", "zstd")  # Debian's config: CONFIG_CRYPTO_<X>=m
WHY = {"size": "a zram disk with a size (a write of disksize) is not modelled",
       "io": "I/O on a zram disk is not modelled (a disk without a size has none)",
       "backing": "a backing device for zram's writeback (a write of backing_dev) is not "
                  "modelled",
       "lseek": "lseek(2) on a debugfs file: the shell has no command for it"}


STOPS = (
    ("size", "struct crypto_tfm *crypto_alloc_base(const char *alg_name, u32 type, u32 mask)",
     "crypto/api.c"),
    ("size", "void crypto_destroy_tfm(void *mem, struct crypto_tfm *tfm)", "crypto/api.c"),
    ("io", "int crypto_comp_compress(struct crypto_comp *comp, const u8 *src, "
           "unsigned int slen, u8 *dst, unsigned int *dlen)", "crypto/compress.c"),
    ("io", "int crypto_comp_decompress(struct crypto_comp *comp, const u8 *src, "
           "unsigned int slen, u8 *dst, unsigned int *dlen)", "crypto/compress.c"),
    ("io", "struct bio *bio_alloc_bioset(struct block_device *bdev, unsigned short nr_vecs, "
           "blk_opf_t opf, gfp_t gfp_mask, struct bio_set *bs)", "block/bio.c"),
    ("io", "void bio_init(struct bio *bio, struct block_device *bdev, struct bio_vec *table, "
           "unsigned short max_vecs, blk_opf_t opf)", "block/bio.c"),
    ("io", "int bio_add_page(struct bio *bio, struct page *page, unsigned int len, "
           "unsigned int offset)", "block/bio.c"),
    ("io", "void bio_chain(struct bio *bio, struct bio *parent)", "block/bio.c"),
    ("io", "void bio_endio(struct bio *bio)", "block/bio.c"),
    ("io", "void bio_put(struct bio *bio)", "block/bio.c"),
    ("io", "void submit_bio(struct bio *bio)", "block/blk-core.c"),
    ("io", "int submit_bio_wait(struct bio *bio)", "block/bio.c"),
    ("io", "int blk_status_to_errno(blk_status_t status)", "block/blk-core.c"),
    ("io", "unsigned long bio_start_io_acct(struct bio *bio)", "block/blk-core.c"),
    ("io", "void bio_end_io_acct_remapped(struct bio *bio, unsigned long start_time, "
           "struct block_device *orig_bdev)", "block/blk-core.c"),
    ("io", "unsigned long bdev_start_io_acct(struct block_device *bdev, unsigned int sectors, "
           "enum req_op op, unsigned long start_time)", "block/blk-core.c"),
    ("io", "void bdev_end_io_acct(struct block_device *bdev, enum req_op op, "
           "unsigned long start_time)", "block/blk-core.c"),
    ("io", "void page_endio(struct page *page, bool is_write, int err)", "mm/filemap.c"),
    ("io", "struct timespec64 ns_to_timespec64(s64 nsec)", "kernel/time/time.c"),
    ("backing", "struct file *filp_open(const char *filename, int flags, umode_t mode)",
     "fs/open.c"),
    ("backing", "int filp_close(struct file *filp, fl_owner_t id)", "fs/open.c"),
    ("backing", "struct block_device *blkdev_get_by_dev(dev_t dev, fmode_t mode, "
                "void *holder)", "block/bdev.c"),
    ("backing", "void blkdev_put(struct block_device *bdev, fmode_t mode)", "block/bdev.c"),
    ("lseek", "loff_t default_llseek(struct file *file, loff_t offset, int whence)",
     "fs/read_write.c"),
)
for _why, _prototype, _source in STOPS:
    declare([(_prototype, _source)], WHY[_why], f": {WHY[_why]}", __name__)


@data("struct bio_set fs_bio_set", "block/bio.c", S.sizeof("bio_set"))
def fs_bio_set(machine, address):
    return bytes(S.sizeof("bio_set"))  # only bio_alloc_bioset (a stop) is given it


@function("int crypto_has_alg(const char *name, u32 type, u32 mask)", "crypto/api.c")
def crypto_has_alg(call, name, type, mask):
    text = (name or b"").decode("utf-8", "replace")
    if mask & CRYPTO_ALG_TYPE_MASK != CRYPTO_ALG_TYPE_MASK or \
            type & CRYPTO_ALG_TYPE_MASK != CRYPTO_ALG_TYPE_COMPRESS:
        raise limit(f"kcourse: {call.site} asks crypto_has_alg() about {text!r} of type "
                    f"{type:#x} (mask {mask:#x}): only compressors are modelled")
    if text in BUILTIN_COMPRESSION or text in BUILTIN_COMPRESSION.values():
        return 1
    if text.removesuffix("-generic").removesuffix("-scomp") in MODULAR_COMPRESSION:
        raise limit(f"kcourse: {call.site} asks the crypto API for {text!r}, which Debian "
                    f"builds as a module: the kernel would load it (request_module"
                    f"(\"crypto-{text}\")), which the simulator does not model")
    return 0
