"""Functions Debian's 8021q calls only from a VLAN device's code, declared so that its init
and exit run (net/8021q/vlan.c vlan_proto_init and vlan_cleanup_module call none of them).

A VLAN device is made by `ip link add ... type vlan` (netlink: vlan_newlink) or the
SIOCSIFVLAN ioctl (vlan_ioctl_handler); the simulator has neither netlink nor sockets, so
none is ever made here, and each of these stops with one line if it is called.
"""

from __future__ import annotations

from kcourse.kapi.stops import declare, unmodelled

DEVICE = "net/core/dev.c"
ADDR = "net/core/dev_addr_lists.c"
VLAN_PATH = (
    ("struct net_device *__dev_get_by_index(struct net *net, int ifindex)", DEVICE),
    ("struct net_device *__dev_get_by_name(struct net *net, const char *name)", DEVICE),
    ("int dev_change_flags(struct net_device *dev, unsigned int flags, "
     "struct netlink_ext_ack *extack)", DEVICE),
    ("void dev_close_many(struct list_head *head, bool unlink)", DEVICE),
    ("unsigned int dev_get_flags(const struct net_device *dev)", DEVICE),
    ("struct rtnl_link_stats64 *dev_get_stats(struct net_device *dev, "
     "struct rtnl_link_stats64 *storage)", DEVICE),
    ("int dev_set_allmulti(struct net_device *dev, int inc)", DEVICE),
    ("int dev_set_mtu(struct net_device *dev, int new_mtu)", DEVICE),
    ("int dev_set_promiscuity(struct net_device *dev, int inc)", DEVICE),
    ("void netdev_update_features(struct net_device *dev)", DEVICE),
    ("int netdev_upper_dev_link(struct net_device *dev, struct net_device *upper_dev, "
     "struct netlink_ext_ack *extack)", DEVICE),
    ("void netdev_upper_dev_unlink(struct net_device *dev, struct net_device *upper_dev)",
     DEVICE),
    ("void netdev_warn(const struct net_device *dev, const char *format, ...)", DEVICE),
    ("void netif_inherit_tso_max(struct net_device *to, const struct net_device *from)",
     DEVICE),
    ("void netif_stacked_transfer_operstate(const struct net_device *rootdev, "
     "struct net_device *dev)", DEVICE),
    ("void __dev_kfree_skb_any(struct sk_buff *skb, enum skb_free_reason reason)", DEVICE),
    ("int dev_mc_sync(struct net_device *to, struct net_device *from)", ADDR),
    ("void dev_mc_unsync(struct net_device *to, struct net_device *from)", ADDR),
    ("int dev_uc_add(struct net_device *dev, const unsigned char *addr)", ADDR),
    ("int dev_uc_del(struct net_device *dev, const unsigned char *addr)", ADDR),
    ("int dev_uc_sync(struct net_device *to, struct net_device *from)", ADDR),
    ("void dev_uc_unsync(struct net_device *to, struct net_device *from)", ADDR),
    ("void linkwatch_fire_event(struct net_device *dev)", "net/core/link_watch.c"),
    ("int __ethtool_get_link_ksettings(struct net_device *dev, "
     "struct ethtool_link_ksettings *link_ksettings)", "net/ethtool/ioctl.c"),
    ("u32 ethtool_op_get_link(struct net_device *dev)", "net/ethtool/ioctl.c"),
    ("int eth_header_parse(const struct sk_buff *skb, unsigned char *haddr)",
     "net/ethernet/eth.c"),
    ("int __skb_vlan_pop(struct sk_buff *skb, u16 *vlan_tci)", "net/core/skbuff.c"),
    ("int pskb_expand_head(struct sk_buff *skb, int nhead, int ntail, gfp_t gfp_mask)",
     "net/core/skbuff.c"),
    ("int __netpoll_setup(struct netpoll *np, struct net_device *ndev)", "net/core/netpoll.c"),
    ("void __netpoll_free(struct netpoll *np)", "net/core/netpoll.c"),
    ("netdev_tx_t netpoll_send_skb(struct netpoll *np, struct sk_buff *skb)",
     "net/core/netpoll.c"),
    ("int __nla_validate(const struct nlattr *head, int len, int maxtype, "
     "const struct nla_policy *policy, unsigned int validate, "
     "struct netlink_ext_ack *extack)", "lib/nlattr.c"),
    ("int nla_put(struct sk_buff *skb, int attrtype, int attrlen, const void *data)",
     "lib/nlattr.c"),
    ("void do_trace_netlink_extack(const char *msg)", "net/netlink/af_netlink.c"),
    ("ssize_t strscpy_pad(char *dest, const char *src, size_t count)", "lib/string_helpers.c"),
    ("u16 vlan_dev_vlan_id(const struct net_device *dev)", "net/8021q/vlan_core.c"),
    ("int vlan_filter_push_vids(struct vlan_info *vlan_info, __be16 proto)",
     "net/8021q/vlan_core.c"),
    ("void vlan_filter_drop_vids(struct vlan_info *vlan_info, __be16 proto)",
     "net/8021q/vlan_core.c"),
    ("bool vlan_uses_dev(const struct net_device *dev)", "net/8021q/vlan_core.c"),
    ("int vlan_vid_add(struct net_device *dev, __be16 proto, u16 vid)",
     "net/8021q/vlan_core.c"),
    ("void vlan_vid_del(struct net_device *dev, __be16 proto, u16 vid)",
     "net/8021q/vlan_core.c"),
)
WHY = ("not modelled: only a VLAN device's code calls it here, and no VLAN device can be made "
       "(no netlink, no sockets)")


declare(VLAN_PATH, WHY,
        unmodelled("no VLAN device can be made here: no netlink, no sockets"), __name__)
