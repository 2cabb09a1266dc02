"""What Debian's isofs calls only from a mounted ISO 9660 file system, declared so that its
init and exit run; and the data that code reads.

init_iso9660_fs (fs/isofs/inode.c:1599) makes the inode cache (kmem_cache_create, with
init_once as its constructor), zisofs_init's vmalloc of zlib_inflate_workspacesize() bytes
(fs/isofs/compress.c:380) and register_filesystem; exit_iso9660_fs undoes them (all modelled:
kcourse.kapi.kmem_cache, slab, filesystems). Everything else isofs links runs only once
mount(2) has called isofs_mount (mount_bdev, isofs_fill_super: buffer heads, nls tables,
mount options, inodes and dentries) or on the files of a mounted file system (directory
reads, name hashes, zisofs's zlib and pages, umount's kill_block_super). The simulator's shell
has no mount(2), so none of it can run here; each of these stops with one line if called.

The struct page functions that code calls, and put_page's static keys, are declared in
kcourse.kapi.page_stops. The data symbols that code reads are laid out as the kernel's are,
for their addresses: generic_ro_fops
(fs/read_write.c) and page_symlink_inode_operations (fs/namei.c) hold the kernel's methods
(slots that stop when called: none of them is modelled); init_user_ns is kernel/user.c's
initial namespace (identity uid, gid and projid maps, level 0, owned by root).
"""

from __future__ import annotations

from kcourse.kapi.registry import data
from kcourse.kapi.stops import declare, unmodelled
from kcourse.kernel import structs as S

WHY = ("not modelled: isofs calls it only from a mounted ISO 9660 file system, and the "
       "simulator has no mount(2)")
BUFFER, DCACHE, INODE, NLS = "fs/buffer.c", "fs/dcache.c", "fs/inode.c", "fs/nls/nls_base.c"
PARSER, USERNS, ZLIB = "lib/parser.c", "kernel/user_namespace.c", "lib/zlib_inflate/inflate.c"
MOUNT_PATH = (
    ("void __bh_read_batch(int nr, struct buffer_head *bhs[], blk_opf_t op_flags, "
     "bool force_lock)", BUFFER),
    ("struct buffer_head *__bread_gfp(struct block_device *bdev, sector_t block, "
     "unsigned size, gfp_t gfp)", BUFFER),
    ("void __brelse(struct buffer_head *bh)", BUFFER),
    ("struct buffer_head *__getblk_gfp(struct block_device *bdev, sector_t block, "
     "unsigned size, gfp_t gfp)", BUFFER),
    ("void __wait_on_buffer(struct buffer_head *bh)", BUFFER),
    ("sector_t generic_block_bmap(struct address_space *mapping, sector_t block, "
     "get_block_t *get_block)", BUFFER),
    ("struct page *pagecache_get_page(struct address_space *mapping, pgoff_t index, "
     "int fgp_flags, gfp_t gfp)", "mm/folio-compat.c"),
    ("int mpage_read_folio(struct folio *folio, get_block_t get_block)", "fs/mpage.c"),
    ("void mpage_readahead(struct readahead_control *rac, get_block_t get_block)",
     "fs/mpage.c"),
    ("struct dentry *d_make_root(struct inode *root_inode)", DCACHE),
    ("struct dentry *d_obtain_alias(struct inode *inode)", DCACHE),
    ("struct dentry *d_splice_alias(struct inode *inode, struct dentry *dentry)", DCACHE),
    ("unsigned int full_name_hash(const void *salt, const char *name, unsigned int len)",
     "fs/namei.c"),
    ("struct inode *iget5_locked(struct super_block *sb, unsigned long hashval, "
     "int (*test)(struct inode *, void *), int (*set)(struct inode *, void *), void *data)",
     INODE),
    ("void iget_failed(struct inode *inode)", "fs/bad_inode.c"),
    ("void init_special_inode(struct inode *inode, umode_t mode, dev_t rdev)", INODE),
    ("void inode_init_once(struct inode *inode)", INODE),
    ("void inode_nohighmem(struct inode *inode)", INODE),
    ("void iput(struct inode *inode)", INODE),
    ("void set_nlink(struct inode *inode, unsigned int nlink)", INODE),
    ("void unlock_new_inode(struct inode *inode)", INODE),
    ("void *kmem_cache_alloc_lru(struct kmem_cache *s, struct list_lru *lru, gfp_t gfpflags)",
     "mm/slub.c"),
    ("loff_t generic_file_llseek(struct file *file, loff_t offset, int whence)",
     "fs/read_write.c"),
    ("ssize_t generic_read_dir(struct file *filp, char __user *buf, size_t siz, loff_t *ppos)",
     "fs/libfs.c"),
    ("struct dentry *mount_bdev(struct file_system_type *fs_type, int flags, "
     "const char *dev_name, void *data, int (*fill_super)(struct super_block *, void *, int))",
     "fs/super.c"),
    ("void kill_block_super(struct super_block *sb)", "fs/super.c"),
    ("int sync_filesystem(struct super_block *sb)", "fs/sync.c"),
    ("int sb_min_blocksize(struct super_block *sb, int size)", "block/bdev.c"),
    ("int sb_set_blocksize(struct super_block *sb, int size)", "block/bdev.c"),
    ("struct nls_table *load_nls(char *charset)", NLS),
    ("void unload_nls(struct nls_table *nls)", NLS),
    ("int utf16s_to_utf8s(const wchar_t *pwcs, int len, enum utf16_endian endian, u8 *s, "
     "int maxlen)", NLS),
    ("int match_int(substring_t *s, int *result)", PARSER),
    ("int match_uint(substring_t *s, unsigned int *result)", PARSER),
    ("char *match_strdup(const substring_t *s)", PARSER),
    ("int match_token(char *s, const match_table_t table, substring_t args[])", PARSER),
    ("kuid_t make_kuid(struct user_namespace *from, uid_t uid)", USERNS),
    ("kgid_t make_kgid(struct user_namespace *from, gid_t gid)", USERNS),
    ("uid_t from_kuid_munged(struct user_namespace *to, kuid_t uid)", USERNS),
    ("gid_t from_kgid_munged(struct user_namespace *to, kgid_t gid)", USERNS),
    ("int zlib_inflate(z_streamp strm, int flush)", ZLIB),
    ("int zlib_inflateEnd(z_streamp strm)", ZLIB),
    ("int zlib_inflateInit2(z_streamp strm, int windowBits)", ZLIB),
)


declare(MOUNT_PATH, WHY,
        unmodelled("a mounted file system's code: the simulator has no mount(2)"), __name__)


def _methods(machine, struct: str, methods: dict[str, str]) -> bytes:
    out = bytearray(S.sizeof(struct))
    for member, fn in methods.items():
        at = S.offsetof(struct, member)
        out[at:at + 8] = machine.address_of(fn).to_bytes(8, "little")
    return bytes(out)


@data("const struct file_operations generic_ro_fops", "fs/read_write.c",
      S.sizeof("file_operations"))
def generic_ro_fops(machine, address):
    return _methods(machine, "file_operations", {
        "llseek": "generic_file_llseek", "read_iter": "generic_file_read_iter",
        "mmap": "generic_file_readonly_mmap", "splice_read": "generic_file_splice_read"})


@data("const struct inode_operations page_symlink_inode_operations", "fs/namei.c",
      S.sizeof("inode_operations"))
def page_symlink_inode_operations(machine, address):
    return _methods(machine, "inode_operations", {"get_link": "page_get_link"})


USER_NS = S.sizeof("user_namespace")
PROC_USER_INIT_INO = 0xEFFFFFFD  # include/linux/proc_ns.h
USERNS_SETGROUPS_ALLOWED = 1  # include/linux/user_namespace.h: USERNS_INIT_FLAGS


@data("struct user_namespace init_user_ns", "kernel/user.c", USER_NS)
def init_user_ns(machine, address):
    """kernel/user.c: each map one extent {first 0, lower_first 0, count 4294967295}, ns.count
    3, ns.inum PROC_USER_INIT_INO, flags USERNS_INIT_FLAGS (ns.ops, keyrings: not laid out)."""
    out = bytearray(USER_NS)

    def put(at: int, value: int, size: int) -> None:
        out[at:at + size] = value.to_bytes(size, "little")

    extent = S.offsetof("uid_gid_map", "extent")
    for name in ("uid_map", "gid_map", "projid_map"):
        at = S.offsetof("user_namespace", name)
        put(at + S.offsetof("uid_gid_map", "nr_extents"), 1, 4)
        put(at + extent + S.offsetof("uid_gid_extent", "count"), 0xFFFFFFFF, 4)
    ns = S.offsetof("user_namespace", "ns")
    put(ns + S.offsetof("ns_common", "inum"), PROC_USER_INIT_INO, 4)
    put(ns + S.offsetof("ns_common", "count"), 3, 4)
    put(S.offsetof("user_namespace", "flags"), USERNS_SETGROUPS_ALLOWED, 8)
    return bytes(out)
