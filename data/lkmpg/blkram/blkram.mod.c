#include <linux/module.h>
#define INCLUDE_VERMAGIC
#include <linux/build-salt.h>
#include <linux/elfnote-lto.h>
#include <linux/export-internal.h>
#include <linux/vermagic.h>
#include <linux/compiler.h>

BUILD_SALT;
BUILD_LTO_INFO;

MODULE_INFO(vermagic, VERMAGIC_STRING);
MODULE_INFO(name, KBUILD_MODNAME);

__visible struct module __this_module
__section(".gnu.linkonce.this_module") = {
	.name = KBUILD_MODNAME,
	.init = init_module,
#ifdef CONFIG_MODULE_UNLOAD
	.exit = cleanup_module,
#endif
	.arch = MODULE_ARCH_INIT,
};

#ifdef CONFIG_RETPOLINE
MODULE_INFO(retpoline, "Y");
#endif


static const struct modversion_info ____versions[]
__used __section("__versions") = {
	{ 0xbdfb6dbb, "__fentry__" },
	{ 0x8331f436, "blk_mq_start_request" },
	{ 0xd996e69b, "blk_mq_end_request" },
	{ 0x5b8239ca, "__x86_return_thunk" },
	{ 0x97651e6c, "vmemmap_base" },
	{ 0x7cd8d75e, "page_offset_base" },
	{ 0x60237de3, "del_gendisk" },
	{ 0x97ca613, "put_disk" },
	{ 0xab610b1e, "blk_mq_free_tag_set" },
	{ 0x999e8297, "vfree" },
	{ 0x37a0cba, "kfree" },
	{ 0xb5a459dc, "unregister_blkdev" },
	{ 0x720a27a7, "__register_blkdev" },
	{ 0x7a7caba8, "kmalloc_caches" },
	{ 0x606e9d01, "kmalloc_trace" },
	{ 0x40a9b349, "vzalloc" },
	{ 0x88477521, "blk_mq_alloc_tag_set" },
	{ 0xf0d782d8, "__blk_mq_alloc_disk" },
	{ 0xe914e41e, "strcpy" },
	{ 0x7a1fc2e0, "blk_queue_logical_block_size" },
	{ 0x3ab9f5b6, "set_capacity" },
	{ 0x2d0e4299, "device_add_disk" },
	{ 0x92997ed8, "_printk" },
	{ 0xa421e6e4, "param_ops_ulong" },
	{ 0x9060323f, "module_layout" },
};

MODULE_INFO(depends, "");

