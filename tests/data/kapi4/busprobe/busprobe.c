// SPDX-License-Identifier: GPL-2.0
/* busprobe: PCI and I2C drivers registered on the lab machine (drivers/pci/pci-driver.c,
 * drivers/i2c/i2c-core-base.c): its four PCI devices (none bound) match no id here and it
 * has no I2C adapter, so nothing is probed; names the guest already has are -EBUSY; and the
 * struct layouts the simulator reads. */
#include <linux/i2c.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/stddef.h>

static int pprobe(struct pci_dev *dev, const struct pci_device_id *id)
{
	pr_info("busprobe pci probe\n");
	return 0;
}

static const struct pci_device_id ids[] = {
	{ PCI_DEVICE(0x1234, 0x5678) },
	{ PCI_DEVICE_CLASS(0x0c0300, 0xffffff) },	/* a UHCI controller: the guest has none */
	{ }
};

static struct pci_driver kcpci = { .name = "kcpci", .id_table = ids, .probe = pprobe };
static struct pci_driver taken = { .name = "serial", .id_table = ids, .probe = pprobe };

static int iprobe(struct i2c_client *client)
{
	pr_info("busprobe i2c probe\n");
	return 0;
}

static const struct i2c_device_id i2c_ids[] = { { "kcchip", 0 }, { } };
static struct i2c_driver kci2c = {
	.driver = { .name = "kci2c" }, .probe_new = iprobe, .id_table = i2c_ids,
};
static struct i2c_driver dummy = { .driver = { .name = "dummy" }, .probe_new = iprobe };

static int __init busprobe_init(void)
{
	int ret;

	pr_info("busprobe layout: %zu %zu %zu %zu %zu %zu %zu\n",
		offsetof(struct pci_driver, name), offsetof(struct pci_driver, id_table),
		offsetof(struct pci_driver, probe), offsetof(struct pci_driver, driver),
		sizeof(struct pci_device_id), offsetof(struct i2c_driver, driver),
		offsetof(struct i2c_driver, clients));
	ret = pci_register_driver(&kcpci);
	pr_info("busprobe pci %d name %s bus %s\n", ret, kcpci.driver.name,
		kcpci.driver.bus ? kcpci.driver.bus->name : "-");
	ret = pci_register_driver(&taken);
	pr_info("busprobe pci taken %d\n", ret);
	ret = i2c_add_driver(&kci2c);
	pr_info("busprobe i2c %d bus %s clients empty %d\n", ret,
		kci2c.driver.bus ? kci2c.driver.bus->name : "-", list_empty(&kci2c.clients));
	ret = i2c_add_driver(&dummy);
	pr_info("busprobe i2c taken %d\n", ret);
	return 0;
}

static void __exit busprobe_exit(void)
{
	i2c_del_driver(&kci2c);
	pci_unregister_driver(&kcpci);
	pr_info("busprobe exit\n");
}

module_init(busprobe_init);
module_exit(busprobe_exit);
MODULE_LICENSE("GPL");
