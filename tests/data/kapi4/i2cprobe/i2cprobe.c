// SPDX-License-Identifier: GPL-2.0
/* i2cprobe: i2c_transfer (drivers/i2c/i2c-core-base.c) on an adapter the module makes itself
 * (its own algorithm and lock operations, never registered): the lock, the retries on
 * -EAGAIN, no master_xfer, no messages, a suspended adapter; and the layouts it reads. */
#include <linux/i2c.h>
#include <linux/module.h>
#include <linux/stddef.h>

static struct i2c_adapter adap;
static int calls, again, locks, unlocks;

static int xfer(struct i2c_adapter *a, struct i2c_msg *msgs, int num)
{
	calls++;
	pr_info("i2cprobe xfer %d: addr %x len %d buf %02x locks %d\n", num, msgs[0].addr,
		msgs[0].len, msgs[0].buf[0], locks - unlocks);
	if (again) {
		again--;
		return -EAGAIN;
	}
	msgs[0].buf[0] = 0x42;
	return num;
}

static void lock_bus(struct i2c_adapter *a, unsigned int flags)
{
	locks++;
	pr_info("i2cprobe lock %u\n", flags);
}

static int trylock_bus(struct i2c_adapter *a, unsigned int flags)
{
	return 1;
}

static void unlock_bus(struct i2c_adapter *a, unsigned int flags)
{
	unlocks++;
	pr_info("i2cprobe unlock %u\n", flags);
}

static struct i2c_algorithm algo = { .master_xfer = xfer };
static struct i2c_algorithm none = { };
static const struct i2c_lock_operations ops = {
	.lock_bus = lock_bus, .trylock_bus = trylock_bus, .unlock_bus = unlock_bus,
};

static int __init i2cprobe_init(void)
{
	u8 byte = 7;
	struct i2c_msg msg = { .addr = 0x50, .flags = 0, .len = 1, .buf = &byte };

	pr_info("i2cprobe layout: %zu %zu %zu %zu %zu %zu %zu %zu %zu\n",
		offsetof(struct i2c_adapter, algo), offsetof(struct i2c_adapter, lock_ops),
		offsetof(struct i2c_adapter, timeout), offsetof(struct i2c_adapter, retries),
		offsetof(struct i2c_adapter, dev), offsetof(struct i2c_adapter, locked_flags),
		offsetof(struct i2c_adapter, quirks), offsetof(struct i2c_algorithm, master_xfer),
		offsetof(struct i2c_lock_operations, unlock_bus));
	adap.algo = &algo;
	adap.lock_ops = &ops;
	adap.retries = 3;
	adap.timeout = HZ;
	pr_info("i2cprobe transfer %d byte %x calls %d\n", i2c_transfer(&adap, &msg, 1), byte,
		calls);
	again = 2;
	pr_info("i2cprobe again %d calls %d\n", i2c_transfer(&adap, &msg, 1), calls);
	again = 10;
	pr_info("i2cprobe retries out %d calls %d\n", i2c_transfer(&adap, &msg, 1), calls);
	again = 0;
	pr_info("i2cprobe no msgs %d\n", i2c_transfer(&adap, NULL, 1));
	pr_info("i2cprobe zero %d\n", i2c_transfer(&adap, &msg, 0));
	set_bit(0, &adap.locked_flags);
	pr_info("i2cprobe suspended %d flags %lx\n", i2c_transfer(&adap, &msg, 1),
		adap.locked_flags);
	pr_info("i2cprobe suspended %d\n", i2c_transfer(&adap, &msg, 1));
	adap.locked_flags = 0;
	adap.algo = &none;
	pr_info("i2cprobe no xfer %d calls %d locks %d unlocks %d\n",
		i2c_transfer(&adap, &msg, 1), calls, locks, unlocks);
	return 0;
}

static void __exit i2cprobe_exit(void)
{
}

module_init(i2cprobe_init);
module_exit(i2cprobe_exit);
MODULE_LICENSE("GPL");
