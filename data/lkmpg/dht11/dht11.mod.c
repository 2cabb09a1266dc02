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
	{ 0x5b8239ca, "__x86_return_thunk" },
	{ 0x5521b5c9, "gpio_to_desc" },
	{ 0xc2af2519, "gpiod_set_raw_value" },
	{ 0xfe990052, "gpio_free" },
	{ 0x151ff97c, "device_destroy" },
	{ 0xfd11e3f7, "class_destroy" },
	{ 0x7fef1dbe, "cdev_del" },
	{ 0x6091b333, "unregister_chrdev_region" },
	{ 0xa916b694, "strnlen" },
	{ 0x88db9f48, "__check_object_size" },
	{ 0x6b10bee1, "_copy_to_user" },
	{ 0xcbd4898c, "fortify_panic" },
	{ 0x3fd78f3b, "register_chrdev_region" },
	{ 0xe3ec2f2b, "alloc_chrdev_region" },
	{ 0x92997ed8, "_printk" },
	{ 0xc9f4b187, "cdev_init" },
	{ 0x478823a1, "cdev_add" },
	{ 0xa7dbde55, "__class_create" },
	{ 0xf2eb916, "device_create" },
	{ 0x47229b5c, "gpio_request" },
	{ 0x4ea06a3c, "gpiod_direction_output_raw" },
	{ 0xeae3dfd6, "__const_udelay" },
	{ 0xe18c1017, "gpiod_direction_input" },
	{ 0x1863f6be, "gpiod_get_raw_value" },
	{ 0x3c3ff9fd, "sprintf" },
	{ 0xf9a482f9, "msleep" },
	{ 0xa19b956, "__stack_chk_fail" },
	{ 0x9060323f, "module_layout" },
};

MODULE_INFO(depends, "");

