// SPDX-License-Identifier: GPL-2.0
/*
 * netprobe: what the kernel's net device code does with what a module asks, recorded on the
 * real kernel (real.expected) and replayed by the simulator (tests/test_kapi_netdev.py).
 */
#include <linux/etherdevice.h>
#include <linux/module.h>
#include <linux/netdevice.h>
#include <linux/rbtree.h>
#include <linux/slab.h>

static struct net_device *devs[2];

static int np_open(struct net_device *dev) { return 0; }
static int np_init_calls;
static int np_init(struct net_device *dev) { np_init_calls++; return 0; }
static void np_uninit(struct net_device *dev) { pr_info("netprobe: uninit %s\n", dev->name); }
static netdev_tx_t np_xmit(struct sk_buff *skb, struct net_device *dev)
{
	dev_kfree_skb(skb);
	return NETDEV_TX_OK;
}

static int np_stats_calls;

static void np_get_stats64(struct net_device *dev, struct rtnl_link_stats64 *stats)
{
	np_stats_calls++;
	stats->tx_packets = 7;
	stats->rx_bytes = 1234;
	stats->collisions = np_stats_calls;
}

static const struct net_device_ops np_stats_ops = {
	.ndo_init = np_init,
	.ndo_uninit = np_uninit,
	.ndo_open = np_open,
	.ndo_start_xmit = np_xmit,
	.ndo_get_stats64 = np_get_stats64,
};

static const struct net_device_ops np_ops = {
	.ndo_init = np_init,
	.ndo_uninit = np_uninit,
	.ndo_open = np_open,
	.ndo_start_xmit = np_xmit,
};

static void np_setup(struct net_device *dev)
{
	ether_setup(dev);
	dev->netdev_ops = &np_ops;
	dev->flags |= IFF_NOARP;
}

static int np_rcv(struct sk_buff *skb, struct net_device *dev, struct packet_type *pt,
		  struct net_device *orig)
{
	kfree_skb(skb);
	return 0;
}

static struct packet_type np_pack = { .type = cpu_to_be16(0x88b5), .func = np_rcv };
static struct packet_type np_stray = { .type = cpu_to_be16(0x88b6), .func = np_rcv };

struct item { struct rb_node node; int key; };

static int rb_check(void)
{
	struct rb_root root = RB_ROOT;
	struct item *items;
	struct rb_node *n;
	int i, last = -1, count = 0, sum = 0;

	items = kcalloc(200, sizeof(*items), GFP_KERNEL);
	if (!items)
		return -ENOMEM;
	for (i = 0; i < 200; i++) {
		struct rb_node **link = &root.rb_node, *parent = NULL;

		items[i].key = (i * 73) % 200;
		while (*link) {
			parent = *link;
			if (items[i].key < rb_entry(parent, struct item, node)->key)
				link = &parent->rb_left;
			else
				link = &parent->rb_right;
		}
		rb_link_node(&items[i].node, parent, link);
		rb_insert_color(&items[i].node, &root);
	}
	for (i = 0; i < 200; i += 3)
		rb_erase(&items[i].node, &root);
	for (n = rb_first(&root); n; n = rb_next(n)) {
		int key = rb_entry(n, struct item, node)->key;

		if (key <= last)
			pr_info("netprobe: rb order broken at %d\n", key);
		last = key;
		count++;
		sum += key;
	}
	pr_info("netprobe: rb %d nodes, key sum %d, first %d, last %d\n", count, sum,
		rb_entry(rb_first(&root), struct item, node)->key,
		rb_entry(rb_last(&root), struct item, node)->key);
	kfree(items);
	return 0;
}

static int __init netprobe_init(void)
{
	static const u8 mac[ETH_ALEN] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };
	struct net_device *bad;
	int i, err;

	for (i = 0; i < 2; i++) {
		devs[i] = alloc_netdev(16, "np%d", NET_NAME_USER, np_setup);
		if (!devs[i])
			return -ENOMEM;
	}
	devs[1]->mtu = 9000;
	devs[1]->netdev_ops = &np_stats_ops;
	devs[0]->stats.rx_errors = 5;
	devs[0]->stats.tx_dropped = 2;
	eth_hw_addr_set(devs[0], mac);
	netif_carrier_off(devs[0]);
	pr_info("netprobe: before register: name %s mtu %u flags %#x type %u addr_len %u "
		"tx_queue_len %u priv_flags %#llx reg_state %d\n", devs[0]->name, devs[0]->mtu,
		devs[0]->flags, devs[0]->type, devs[0]->addr_len, devs[0]->tx_queue_len,
		(unsigned long long)devs[0]->priv_flags, devs[0]->reg_state);
	for (i = 0; i < 2; i++) {
		err = register_netdev(devs[i]);
		pr_info("netprobe: register %d: %d, name %s, ifindex %d\n", i, err,
			devs[i]->name, devs[i]->ifindex);
	}
	pr_info("netprobe: ndo_init ran %d times, features %#llx hw_features %#llx\n",
		np_init_calls, (unsigned long long)devs[0]->features,
		(unsigned long long)devs[0]->hw_features);

	bad = alloc_netdev(0, "np0", NET_NAME_USER, np_setup);
	err = bad ? register_netdev(bad) : -ENOMEM;
	pr_info("netprobe: a second np0: %d\n", err);
	if (bad)
		free_netdev(bad);
	bad = alloc_netdev(0, "a/b", NET_NAME_USER, np_setup);
	err = bad ? register_netdev(bad) : -ENOMEM;
	pr_info("netprobe: a/b: %d\n", err);
	if (bad)
		free_netdev(bad);
	bad = alloc_netdev(0, "x%d%d", NET_NAME_USER, np_setup);
	err = bad ? register_netdev(bad) : -ENOMEM;
	pr_info("netprobe: x%%d%%d: %d\n", err);
	if (bad)
		free_netdev(bad);

	netif_carrier_on(devs[0]);
	netif_carrier_off(devs[0]);
	netif_carrier_on(devs[0]);
	dev_add_pack(&np_pack);
	dev_remove_pack(&np_stray);
	return rb_check();
}

static void __exit netprobe_exit(void)
{
	int i;

	dev_remove_pack(&np_pack);
	for (i = 0; i < 2; i++) {
		unregister_netdev(devs[i]);
		pr_info("netprobe: unregistered %d: reg_state %d\n", i, devs[i]->reg_state);
		free_netdev(devs[i]);
	}
}

module_init(netprobe_init);
module_exit(netprobe_exit);
MODULE_DESCRIPTION("kcourse: net device probe");
MODULE_LICENSE("GPL");
