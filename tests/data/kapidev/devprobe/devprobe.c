// devprobe: device messages (drivers/base/core.c), pr_debug/dev_dbg left off (lib/dynamic_debug.c),
// mutex_init (kernel/locking/mutex.c) and the flags spin_lock_irqsave returns
// (kernel/locking/spinlock.c), as Debian's 6.1 kernel prints them.
#include <linux/module.h>
#include <linux/device.h>
#include <linux/kdev_t.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/slab.h>

static struct class *cls;
static struct device *dev;
static struct device bare = { .init_name = "bare0" };
static struct device_driver drv = { .name = "probedrv" };
static struct bus_type bus = { .name = "probebus" };
static struct class noname = { .name = NULL };
static DEFINE_SPINLOCK(outer);
static DEFINE_SPINLOCK(inner);

static void mutexes(void)
{
	struct mutex *m = kmalloc(sizeof(*m), GFP_KERNEL);

	if (!m)
		return;
	memset(m, 0xa5, sizeof(*m));
	mutex_init(m);
	pr_info("mutex_init: owner %lx, locked %d, wait_list empty %d, osq %d\n",
		atomic_long_read(&m->owner), mutex_is_locked(m), list_empty(&m->wait_list),
		atomic_read(&m->osq.tail));
	mutex_lock(m);
	pr_info("mutex_lock: locked %d, owner is current %d\n", mutex_is_locked(m),
		(atomic_long_read(&m->owner) & ~0x7L) == (long)current);
	mutex_unlock(m);
	pr_info("mutex_unlock: locked %d\n", mutex_is_locked(m));
	kfree(m);
}

static void irqsave(void)
{
	unsigned long flags, nested;

	pr_info("before: IF %lu\n", (native_save_fl() >> 9) & 1);
	spin_lock_irqsave(&outer, flags);
	pr_info("spin_lock_irqsave: saved IF %lu, IF %lu, locked %d\n",
		(flags >> 9) & 1, (native_save_fl() >> 9) & 1, spin_is_locked(&outer));
	spin_lock_irqsave(&inner, nested);
	pr_info("nested spin_lock_irqsave: saved IF %lu\n", (nested >> 9) & 1);
	spin_unlock_irqrestore(&inner, nested);
	pr_info("inner restored: IF %lu\n", (native_save_fl() >> 9) & 1);
	spin_unlock_irqrestore(&outer, flags);
	pr_info("outer restored: IF %lu, locked %d\n", (native_save_fl() >> 9) & 1,
		spin_is_locked(&outer));
}

static int __init devprobe_init(void)
{
	cls = class_create(THIS_MODULE, "devprobe");
	if (IS_ERR(cls))
		return PTR_ERR(cls);
	dev = device_create(cls, NULL, MKDEV(0, 0), NULL, "probe%d", 7);
	if (IS_ERR(dev)) {
		class_destroy(cls);
		return PTR_ERR(dev);
	}
	dev_emerg(dev, "emerg %d\n", 0);
	dev_alert(dev, "alert\n");
	dev_crit(dev, "crit\n");
	dev_err(dev, "err %d %s\n", 1, "one");
	dev_warn(dev, "warn %s\n", "w");
	dev_notice(dev, "notice\n");
	dev_info(dev, "info without a newline");
	pr_cont("a pr_cont after it\n");
	dev_printk(KERN_ERR, dev, "dev_printk at KERN_ERR %x\n", 255);
	pr_info("dev_driver_string '%s', dev_name '%s'\n", dev_driver_string(dev), dev_name(dev));
	dev_info(NULL, "a NULL device %d", 3);
	pr_cont(" continued\n");
	dev_info(&bare, "a device with only an init_name\n");
	bare.class = &noname;
	dev_info(&bare, "its class has a NULL name\n");
	bare.bus = &bus;
	dev_info(&bare, "on a bus\n");
	bare.driver = &drv;
	dev_info(&bare, "bound to a driver\n");
	pr_info("dev_driver_string '%s'\n", dev_driver_string(&bare));
	dev_dbg(dev, "dev_dbg without DEBUG\n");
	pr_debug("pr_debug without DEBUG\n");
	mutexes();
	irqsave();
	return 0;
}

static void __exit devprobe_exit(void)
{
	dev_info(dev, "bye\n");
	device_destroy(cls, MKDEV(0, 0));
	class_destroy(cls);
}

module_init(devprobe_init);
module_exit(devprobe_exit);
MODULE_LICENSE("GPL");
