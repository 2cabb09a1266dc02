"""Functions and variables Debian's vxlan calls only from a VXLAN device's code, declared so
that its init and exit run (drivers/net/vxlan/vxlan_core.c vxlan_init_module and
vxlan_cleanup_module call none of them; what they do call is modelled in
kcourse.kapi.net_namespace, netdev, net_chains and random_bytes).

A VXLAN device is made by `ip link add ... type vxlan` (netlink: vxlan_newlink ->
__vxlan_dev_create, rtnl_create_link) and everything below follows from one: its fdb
(rhashtable, call_rcu), its UDP socket (vxlan_open -> vxlan_sock_add, multicast joins), its
packets (vxlan_xmit, vxlan_rcv, GRO), its netlink replies (vxlan_fill_info, fdb and
vnifilter dumps) and the switchdev and nexthop events about it. The simulator has no
netlink and no sockets, so no VXLAN device is ever made here, and each of these stops with
one line if it is called (a variable: if it is read or written). The notifiers vxlan's init
registers do run: vxlan_netdevice_event hears lo's NETDEV_REGISTER and NETDEV_UNREGISTER
replayed, and does nothing for them (lo is no VXLAN device's lower device).

in6addr_any and in6addr_loopback are the kernel's constants themselves (:: and ::1,
net/ipv6/addrconf_core.c), laid out with their real bytes.
"""

from __future__ import annotations

from kcourse.kapi.registry import data
from kcourse.kapi.stops import declare, declare_untouched, unmodelled

WHY = ("not modelled: only a VXLAN device's code calls it, and no VXLAN device can be made "
       "here (no netlink, no sockets)")
WHY_DATA = ("not modelled: only a VXLAN device's code reads it, and no VXLAN device can be "
            "made here (no netlink, no sockets)")
WHAT = "no VXLAN device can be made here: no netlink, no sockets"
SKBUFF, DEV, NEXTHOP = "net/core/skbuff.c", "net/core/dev.c", "net/ipv4/nexthop.c"
RHASH, NLATTR, RTNL = "lib/rhashtable.c", "lib/nlattr.c", "net/core/rtnetlink.c"
GRO = "net/core/gro.c"

VXLAN_PATH = (
    ("int __iptunnel_pull_header(struct sk_buff *skb, int hdr_len, __be16 inner_proto, "
     "bool raw_proto, bool xnet)", "net/ipv4/ip_tunnel_core.c"),
    ("int iptunnel_handle_offloads(struct sk_buff *skb, int gso_type_mask)",
     "net/ipv4/ip_tunnel_core.c"),
    ("int skb_tunnel_check_pmtu(struct sk_buff *skb, struct dst_entry *encap_dst, "
     "int headroom, bool reply)", "net/ipv4/ip_tunnel_core.c"),
    ("int __ipv6_addr_type(const struct in6_addr *addr)", "net/ipv6/addrconf_core.c"),
    ("int __netif_rx(struct sk_buff *skb)", DEV),
    ("struct net_device *dev_get_by_index_rcu(struct net *net, int ifindex)", DEV),
    ("void dev_get_tstats64(struct net_device *dev, struct rtnl_link_stats64 *s)", DEV),
    ("void netdev_adjacent_change_abort(struct net_device *old_dev, "
     "struct net_device *new_dev, struct net_device *dev)", DEV),
    ("void netdev_adjacent_change_commit(struct net_device *old_dev, "
     "struct net_device *new_dev, struct net_device *dev)", DEV),
    ("int netdev_adjacent_change_prepare(struct net_device *old_dev, "
     "struct net_device *new_dev, struct net_device *dev, struct netlink_ext_ack *extack)",
     DEV),
    ("struct net_device_core_stats *netdev_core_stats_alloc(struct net_device *dev)", DEV),
    ("void netdev_info(const struct net_device *dev, const char *format, ...)", DEV),
    ("int __nla_parse(struct nlattr **tb, int maxtype, const struct nlattr *head, int len, "
     "const struct nla_policy *policy, unsigned int validate, "
     "struct netlink_ext_ack *extack)", NLATTR),
    ("int nla_memcpy(void *dest, const struct nlattr *src, int count)", NLATTR),
    ("int nla_put_64bit(struct sk_buff *skb, int attrtype, int attrlen, const void *data, "
     "int padattr)", NLATTR),
    ("struct nlmsghdr *__nlmsg_put(struct sk_buff *skb, u32 portid, u32 seq, int type, "
     "int len, int flags)", "net/netlink/af_netlink.c"),
    ("int rtnl_configure_link(struct net_device *dev, const struct ifinfomsg *ifm, "
     "u32 portid, const struct nlmsghdr *nlh)", RTNL),
    ("struct net_device *rtnl_create_link(struct net *net, const char *ifname, "
     "unsigned char name_assign_type, const struct rtnl_link_ops *ops, struct nlattr *tb[], "
     "struct netlink_ext_ack *extack)", RTNL),
    ("bool rtnl_dev_link_net_capable(const struct net_device *dev, "
     "const struct net *link_net)", RTNL),
    ("void rtnl_notify(struct sk_buff *skb, struct net *net, u32 pid, u32 group, "
     "const struct nlmsghdr *nlh, gfp_t flags)", RTNL),
    ("void rtnl_set_sk_err(struct net *net, u32 group, int error)", RTNL),
    ("int peernet2id(const struct net *net, struct net *peer)", "net/core/net_namespace.c"),
    ("struct rhash_lock_head **__rht_bucket_nested(const struct bucket_table *tbl, "
     "unsigned int hash)", RHASH),
    ("struct rhash_lock_head **rht_bucket_nested(const struct bucket_table *tbl, "
     "unsigned int hash)", RHASH),
    ("struct rhash_lock_head **rht_bucket_nested_insert(struct rhashtable *ht, "
     "struct bucket_table *tbl, unsigned int hash)", RHASH),
    ("void rhashtable_destroy(struct rhashtable *ht)", RHASH),
    ("int rhashtable_init(struct rhashtable *ht, const struct rhashtable_params *params)",
     RHASH),
    ("void *rhashtable_insert_slow(struct rhashtable *ht, const void *key, "
     "struct rhash_head *obj)", RHASH),
    ("__sum16 __skb_checksum_complete(struct sk_buff *skb)", SKBUFF),
    ("void *skb_put(struct sk_buff *skb, unsigned int len)", SKBUFF),
    ("void skb_scrub_packet(struct sk_buff *skb, bool xnet)", SKBUFF),
    ("void __skb_get_hash_net(const struct net *net, struct sk_buff *skb)",
     "net/core/flow_dissector.c"),
    ("struct sk_buff *arp_create(int type, int ptype, __be32 dest_ip, struct net_device *dev, "
     "__be32 src_ip, const unsigned char *dest_hw, const unsigned char *src_hw, "
     "const unsigned char *target_hw)", "net/ipv4/arp.c"),
    ("void call_rcu(struct rcu_head *head, rcu_callback_t func)", "kernel/rcu/tree.c"),
    ("int call_switchdev_notifiers(unsigned long val, struct net_device *dev, "
     "struct switchdev_notifier_info *info, struct netlink_ext_ack *extack)",
     "net/switchdev/switchdev.c"),
    ("__sum16 csum_ipv6_magic(const struct in6_addr *saddr, const struct in6_addr *daddr, "
     "__u32 len, __u8 proto, __wsum csum)", "arch/x86/lib/csum-wrappers_64.c"),
    ("__wsum csum_partial(const void *buff, int len, __wsum sum)",
     "arch/x86/lib/csum-partial_64.c"),
    ("void dst_cache_destroy(struct dst_cache *dst_cache)", "net/core/dst_cache.c"),
    ("int dst_cache_init(struct dst_cache *dst_cache, gfp_t gfp)", "net/core/dst_cache.c"),
    ("void metadata_dst_free(struct metadata_dst *md_dst)", "net/core/dst.c"),
    ("int eth_gro_complete(struct sk_buff *skb, int nhoff)", "net/ethernet/eth.c"),
    ("struct sk_buff *eth_gro_receive(struct list_head *head, struct sk_buff *skb)",
     "net/ethernet/eth.c"),
    ("struct packet_offload *gro_find_complete_by_type(__be16 type)", GRO),
    ("struct packet_offload *gro_find_receive_by_type(__be16 type)", GRO),
    ("void gro_cells_destroy(struct gro_cells *gcells)", "net/core/gro_cells.c"),
    ("int gro_cells_init(struct gro_cells *gcells, struct net_device *dev)",
     "net/core/gro_cells.c"),
    ("int gro_cells_receive(struct gro_cells *gcells, struct sk_buff *skb)",
     "net/core/gro_cells.c"),
    ("void inet_get_local_port_range(const struct net *net, int *low, int *high)",
     "net/ipv4/inet_connection_sock.c"),
    ("int ip6_dst_hoplimit(struct dst_entry *dst)", "net/ipv6/output_core.c"),
    ("int ip_mc_join_group(struct sock *sk, struct ip_mreqn *imr)", "net/ipv4/igmp.c"),
    ("int ip_mc_leave_group(struct sock *sk, struct ip_mreqn *imr)", "net/ipv4/igmp.c"),
    ("clock_t jiffies_to_clock_t(unsigned long x)", "kernel/time/time.c"),
    ("int l3mdev_master_upper_ifindex_by_index_rcu(struct net *net, int ifindex)",
     "net/l3mdev/l3mdev.c"),
    ("void neigh_destroy(struct neighbour *neigh)", "net/core/neighbour.c"),
    ("struct neighbour *neigh_lookup(struct neigh_table *tbl, const void *pkey, "
     "struct net_device *dev)", "net/core/neighbour.c"),
    ("int net_ratelimit(void)", "net/core/utils.c"),
    ("struct nexthop *nexthop_find_by_id(struct net *net, u32 id)", NEXTHOP),
    ("void nexthop_free_rcu(struct rcu_head *head)", NEXTHOP),
    ("struct nexthop *nexthop_select_path(struct nexthop *nh, int hash)", NEXTHOP),
)

# Read only by a VXLAN device's code: arp_tbl (neigh_lookup in arp_reduce and
# vxlan_na_create), and the static key ip_tunnel_metadata_cnt, which only vxlan's
# __jump_table names (ip_tunnel_collect_metadata on the receive path).
VXLAN_DATA = (
    ("struct neigh_table arp_tbl", "net/ipv4/arp.c"),
    ("struct static_key_false ip_tunnel_metadata_cnt", "net/ipv4/ip_tunnel_core.c"),
)

declare(VXLAN_PATH, WHY, unmodelled(WHAT), __name__)
declare_untouched(VXLAN_DATA, WHY_DATA, __name__)


@data("const struct in6_addr in6addr_any", "net/ipv6/addrconf_core.c", 16)
def in6addr_any(machine, address):
    return bytes(16)  # IN6ADDR_ANY_INIT


@data("const struct in6_addr in6addr_loopback", "net/ipv6/addrconf_core.c", 16)
def in6addr_loopback(machine, address):
    return bytes(15) + b"\x01"  # IN6ADDR_LOOPBACK_INIT
