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
	{ 0x68be8d73, "platform_device_alloc" },
	{ 0x729fdd36, "platform_device_add" },
	{ 0xde6ebf70, "platform_device_put" },
	{ 0xb59f869e, "__platform_driver_register" },
	{ 0xd0a75f7, "platform_device_unregister" },
	{ 0x5b8239ca, "__x86_return_thunk" },
	{ 0xbb462483, "_dev_info" },
	{ 0x7ae3ac7b, "platform_driver_unregister" },
	{ 0xb0155166, "dma_set_mask" },
	{ 0xfa3d07df, "dev_err_probe" },
	{ 0xc29f314, "dma_set_coherent_mask" },
	{ 0x91c24755, "devm_kmalloc" },
	{ 0x81037793, "dmam_alloc_attrs" },
	{ 0xfb578fc5, "memset" },
	{ 0xc31db0ce, "is_vmalloc_addr" },
	{ 0x7cd8d75e, "page_offset_base" },
	{ 0x97651e6c, "vmemmap_base" },
	{ 0x39197a75, "dma_map_page_attrs" },
	{ 0x6526f510, "dma_unmap_page_attrs" },
	{ 0xbddc291a, "dev_driver_string" },
	{ 0x56470118, "__warn_printk" },
	{ 0x4c9d28b0, "phys_base" },
	{ 0x91c14d8d, "param_ops_uint" },
	{ 0x9060323f, "module_layout" },
};

MODULE_INFO(depends, "");

