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
	{ 0x6d2e0b2f, "vinput_register" },
	{ 0xba8fbd64, "_raw_spin_lock" },
	{ 0x656e4a6e, "snprintf" },
	{ 0xb5b54b34, "_raw_spin_unlock" },
	{ 0x5b8239ca, "__x86_return_thunk" },
	{ 0x3854774b, "kstrtoll" },
	{ 0xbb462483, "_dev_info" },
	{ 0x64490c54, "input_event" },
	{ 0x7a945ae2, "_dev_err" },
	{ 0xa19b956, "__stack_chk_fail" },
	{ 0x7e8dcd46, "input_register_device" },
	{ 0x77fdfe8e, "vinput_unregister" },
	{ 0x9060323f, "module_layout" },
};

MODULE_INFO(depends, "vinput");

