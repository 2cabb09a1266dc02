// dbgprobe: pr_debug and dev_dbg with DEBUG defined (their descriptors start with the p
// flag, include/linux/dynamic_debug.h), so they print at KERN_DEBUG (lib/dynamic_debug.c).
#define DEBUG
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt
#include <linux/module.h>
#include <linux/device.h>
#include <linux/kdev_t.h>

static struct class *cls;
static struct device *dev;

static int __init dbgprobe_init(void)
{
	cls = class_create(THIS_MODULE, "dbgprobe");
	if (IS_ERR(cls))
		return PTR_ERR(cls);
	dev = device_create(cls, NULL, MKDEV(0, 0), NULL, "dbg%s", "0");
	if (IS_ERR(dev)) {
		class_destroy(cls);
		return PTR_ERR(dev);
	}
	pr_debug("pr_debug %d %s\n", 42, "on");
	dev_dbg(dev, "dev_dbg %d\n", 7);
	dev_dbg(NULL, "dev_dbg of a NULL device\n");
	pr_debug("without a newline");
	pr_cont(" and a pr_cont\n");
	return 0;
}

static void __exit dbgprobe_exit(void)
{
	dev_dbg(dev, "bye\n");
	device_destroy(cls, MKDEV(0, 0));
	class_destroy(cls);
}

module_init(dbgprobe_init);
module_exit(dbgprobe_exit);
MODULE_LICENSE("GPL");
