// SPDX-License-Identifier: GPL-2.0
/*
 * netnotify: what the kernel does for a module's pernet subsystem, /proc/net file and
 * netdevice notifiers (replays at register and unregister, a veto and its rollback, the
 * events of a device registered, its mtu changed, and unregistered while they listen),
 * recorded on the real kernel (real.expected) and replayed by the simulator
 * (tests/test_kapi_8021q.py).
 */
#include <linux/etherdevice.h>
#include <linux/module.h>
#include <linux/netdevice.h>
#include <linux/proc_fs.h>
#include <linux/rtnetlink.h>
#include <linux/seq_file.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>

struct nn_net {
	int inits;
	struct proc_dir_entry *dir;
};

static unsigned int nn_id;
static struct net_device *nn_dev;

static netdev_tx_t nn_xmit(struct sk_buff *skb, struct net_device *dev)
{
	dev_kfree_skb(skb);
	return NETDEV_TX_OK;
}

/* register_netdevice reads dev->netdev_ops->ndo_init: a device needs its ops */
static const struct net_device_ops nn_ops = { .ndo_start_xmit = nn_xmit };

static void nn_setup(struct net_device *dev)
{
	ether_setup(dev);
	dev->netdev_ops = &nn_ops;
}

static void *nn_start(struct seq_file *seq, loff_t *pos)
{
	return *pos ? NULL : SEQ_START_TOKEN;
}

static void *nn_next(struct seq_file *seq, void *v, loff_t *pos)
{
	++*pos;
	return NULL;
}

static void nn_stop(struct seq_file *seq, void *v) { }

static int nn_show(struct seq_file *seq, void *v)
{
	struct net *net = seq_file_net(seq);
	struct nn_net *nn = net_generic(net, nn_id);
	struct net_device *dev;
	int count = 0;

	for_each_netdev(net, dev)
		seq_printf(seq, "%d: %s\n", count++, dev->name);
	seq_printf(seq, "inits %d lo %s\n", nn->inits, net->loopback_dev->name);
	return 0;
}

static const struct seq_operations nn_seq_ops = {
	.start = nn_start, .next = nn_next, .stop = nn_stop, .show = nn_show,
};

static int __net_init nn_init_net(struct net *net)
{
	struct nn_net *nn = net_generic(net, nn_id);

	pr_info("netnotify: pernet init: inits %d, lo %s ifindex %d, id above 2: %d\n",
		nn->inits, net->loopback_dev->name, net->loopback_dev->ifindex, nn_id > 2);
	nn->inits++;
	nn->dir = proc_net_mkdir(net, "netnotify", net->proc_net);
	if (!nn->dir)
		return -ENOMEM;
	if (!proc_create_net("devices", 0444, nn->dir, &nn_seq_ops,
			     sizeof(struct seq_net_private))) {
		remove_proc_entry("netnotify", net->proc_net);
		return -ENOMEM;
	}
	return 0;
}

static void __net_exit nn_exit_net(struct net *net)
{
	struct nn_net *nn = net_generic(net, nn_id);

	pr_info("netnotify: pernet exit: inits %d\n", nn->inits);
	remove_proc_subtree("netnotify", net->proc_net);
}

static struct pernet_operations nn_net_ops = {
	.init = nn_init_net,
	.exit = nn_exit_net,
	.id = &nn_id,
	.size = sizeof(struct nn_net),
};

static int nn_event(struct notifier_block *nb, unsigned long event, void *ptr)
{
	struct net_device *dev = netdev_notifier_info_to_dev(ptr);

	pr_info("netnotify: event %lu %s ifindex %d flags %#x rtnl %d\n", event, dev->name,
		dev->ifindex, dev->flags, rtnl_is_locked());
	if (event == NETDEV_CHANGEMTU)
		pr_info("netnotify: mtu %u, was %u\n", dev->mtu,
			((struct netdev_notifier_info_ext *)ptr)->ext.mtu);
	return NOTIFY_DONE;
}

static int nn_veto(struct notifier_block *nb, unsigned long event, void *ptr)
{
	struct net_device *dev = netdev_notifier_info_to_dev(ptr);

	pr_info("netnotify: veto sees %lu %s\n", event, dev->name);
	if (event == NETDEV_REGISTER && dev == nn_dev)
		return notifier_from_errno(-EBUSY);
	return NOTIFY_DONE;
}

static struct notifier_block nn_nb = { .notifier_call = nn_event };
static struct notifier_block nn_veto_nb = { .notifier_call = nn_veto };

static int __init nn_init(void)
{
	int err;

	err = register_pernet_subsys(&nn_net_ops);
	pr_info("netnotify: register_pernet_subsys %d\n", err);
	if (err)
		return err;
	err = register_netdevice_notifier(&nn_nb);
	pr_info("netnotify: register_netdevice_notifier %d\n", err);
	nn_dev = alloc_netdev(0, "nn%d", NET_NAME_ENUM, nn_setup);
	if (!nn_dev)
		return -ENOMEM;
	err = register_netdev(nn_dev);
	pr_info("netnotify: register_netdev %d %s\n", err, nn_dev->name);
	err = register_netdevice_notifier(&nn_veto_nb);
	pr_info("netnotify: vetoing notifier %d\n", err);
	err = unregister_netdevice_notifier(&nn_veto_nb);
	pr_info("netnotify: unregister of a notifier never linked %d\n", err);
	return 0;
}

static void __exit nn_exit(void)
{
	unregister_netdev(nn_dev);
	free_netdev(nn_dev);
	pr_info("netnotify: unregister_netdevice_notifier %d\n",
		unregister_netdevice_notifier(&nn_nb));
	unregister_pernet_subsys(&nn_net_ops);
}

module_init(nn_init);
module_exit(nn_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("pernet subsystems and netdevice notifiers, against the real kernel");
