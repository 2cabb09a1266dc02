// SPDX-License-Identifier: GPL-2.0
/*
 * nullops: a device with no netdev_ops (ether_setup alone sets none). register_netdevice
 * reads dev->netdev_ops->ndo_init (net/core/dev.c) and oopses on the NULL pointer; the
 * real kernel's report is real.expected (tests/test_kapi_8021q.py).
 */
#include <linux/etherdevice.h>
#include <linux/module.h>
#include <linux/netdevice.h>

static struct net_device *nz;

static int __init nz_init(void)
{
	nz = alloc_netdev(0, "nz%d", NET_NAME_ENUM, ether_setup);
	return nz ? register_netdev(nz) : -ENOMEM;
}

static void __exit nz_exit(void)
{
	unregister_netdev(nz);
	free_netdev(nz);
}

module_init(nz_init);
module_exit(nz_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("register_netdev of a device without netdev_ops");
