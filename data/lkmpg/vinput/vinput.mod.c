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

SYMBOL_CRC(vinput_register, 0x6d2e0b2f, "");
SYMBOL_CRC(vinput_unregister, 0x77fdfe8e, "");

static const struct modversion_info ____versions[]
__used __section("__versions") = {
	{ 0xbdfb6dbb, "__fentry__" },
	{ 0xba8fbd64, "_raw_spin_lock" },
	{ 0xb5b54b34, "_raw_spin_unlock" },
	{ 0x5b8239ca, "__x86_return_thunk" },
	{ 0x65487097, "__x86_indirect_thunk_rax" },
	{ 0xecdcabd2, "copy_user_generic_unrolled" },
	{ 0x1f199d24, "copy_user_generic_string" },
	{ 0x21271fd0, "copy_user_enhanced_fast_string" },
	{ 0xa19b956, "__stack_chk_fail" },
	{ 0x68f31cbd, "__list_add_valid" },
	{ 0x92997ed8, "_printk" },
	{ 0x3854774b, "kstrtoll" },
	{ 0x72f22510, "input_unregister_device" },
	{ 0xd869872e, "device_unregister" },
	{ 0x156696d3, "_dev_warn" },
	{ 0xdf460199, "__register_chrdev" },
	{ 0x908ad9a3, "__class_register" },
	{ 0x6bc3fbc0, "__unregister_chrdev" },
	{ 0x6389ebc4, "class_unregister" },
	{ 0xe1537255, "__list_del_entry_valid" },
	{ 0x37a0cba, "kfree" },
	{ 0x2cf56265, "__dynamic_pr_debug" },
	{ 0xa916b694, "strnlen" },
	{ 0x5a921311, "strncmp" },
	{ 0x7a7caba8, "kmalloc_caches" },
	{ 0x606e9d01, "kmalloc_trace" },
	{ 0xe55ba0af, "input_allocate_device" },
	{ 0xb38a2df9, "dev_set_name" },
	{ 0xeafc3e0c, "device_register" },
	{ 0x1458e233, "input_free_device" },
	{ 0xcbd4898c, "fortify_panic" },
	{ 0xbb462483, "_dev_info" },
	{ 0x9060323f, "module_layout" },
};

MODULE_INFO(depends, "");

