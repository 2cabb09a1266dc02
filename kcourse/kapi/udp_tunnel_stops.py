"""Functions and variables Debian's udp_tunnel and ip6_udp_tunnel call only from a UDP
tunnel's socket or packet path, declared so that the modules load and their init and exit
run.

ip6_udp_tunnel (net/ipv6/ip6_udp_tunnel.c) has no module_init and no module_exit: it only
exports udp_sock_create6, udp_tunnel6_xmit_skb and udp_tunnel6_dst_lookup. udp_tunnel
(net/ipv4/udp_tunnel_core.c, udp_tunnel_nic.c) runs udp_tunnel_nic_init_module and
udp_tunnel_nic_cleanup_module, which call alloc_workqueue, destroy_workqueue, rtnl_lock,
rtnl_unlock and (un)register_netdevice_notifier (all modelled elsewhere) and set
udp_tunnel_nic_ops (below); their notifier, udp_tunnel_nic_netdevice_event, returns at once
for a device without udp_tunnel_nic_info, which no device here has.

Everything else they link is reached from their exports: a tunnel driver (vxlan, geneve,
...) calls them when `ip link add ... type vxlan` makes a device (netlink) and it is brought
up (a kernel UDP socket: sock_create_kern) or sends a packet. The simulator has neither
netlink nor sockets nor a packet path, so none of that runs here, and each of these stops
with one line if it is called (a variable: if it is read or written).
"""

from __future__ import annotations

from kcourse.kapi.registry import data
from kcourse.kapi.stops import declare, declare_untouched, unmodelled

SOCKET = "net/socket.c"
CORE_SOCK = "net/core/sock.c"
DST_CACHE = "net/core/dst_cache.c"
WHY = ("not modelled: only a UDP tunnel's socket or packet path calls it, and no tunnel "
       "socket can be made here (no netlink, no sockets)")
WHY_DATA = ("not modelled: only a UDP tunnel's socket or packet path reads it, and no tunnel "
            "socket can be made here (no netlink, no sockets)")

TUNNEL_PATH = (
    ("void __dynamic_netdev_dbg(struct _ddebug *descriptor, const struct net_device *dev, "
     "const char *fmt, ...)", "lib/dynamic_debug.c"),
    ("struct dst_entry *dst_cache_get_ip6(struct dst_cache *dst_cache, "
     "struct in6_addr *saddr)", DST_CACHE),
    ("void dst_cache_set_ip6(struct dst_cache *dst_cache, struct dst_entry *dst, "
     "const struct in6_addr *saddr)", DST_CACHE),
    ("struct rtable *dst_cache_get_ip4(struct dst_cache *dst_cache, __be32 *saddr)",
     DST_CACHE),
    ("void dst_cache_set_ip4(struct dst_cache *dst_cache, struct dst_entry *dst, "
     "__be32 saddr)", DST_CACHE),
    ("void dst_release(struct dst_entry *dst)", "net/core/dst.c"),
    ("struct metadata_dst *metadata_dst_alloc(u8 optslen, enum metadata_type type, "
     "gfp_t flags)", "net/core/dst.c"),
    ("int ip6_local_out(struct net *net, struct sock *sk, struct sk_buff *skb)",
     "net/ipv6/output_core.c"),
    ("struct rtable *ip_route_output_flow(struct net *net, struct flowi4 *flp, "
     "const struct sock *sk)", "net/ipv4/route.c"),
    ("void iptunnel_xmit(struct sock *sk, struct rtable *rt, struct sk_buff *skb, "
     "__be32 src, __be32 dst, u8 proto, u8 tos, u8 ttl, __be16 df, bool xnet)",
     "net/ipv4/ip_tunnel_core.c"),
    ("int kernel_bind(struct socket *sock, struct sockaddr *addr, int addrlen)", SOCKET),
    ("int kernel_connect(struct socket *sock, struct sockaddr *addr, int addrlen, int flags)",
     SOCKET),
    ("int kernel_sock_shutdown(struct socket *sock, enum sock_shutdown_cmd how)", SOCKET),
    ("int sock_create_kern(struct net *net, int family, int type, int protocol, "
     "struct socket **res)", SOCKET),
    ("void sock_release(struct socket *sock)", SOCKET),
    ("void lock_sock_nested(struct sock *sk, int subclass)", CORE_SOCK),
    ("void release_sock(struct sock *sk)", CORE_SOCK),
    ("int sock_bindtoindex(struct sock *sk, int ifindex, bool lock_sk)", CORE_SOCK),
    ("void skb_trim(struct sk_buff *skb, unsigned int len)", "net/core/skbuff.c"),
    ("void udp_encap_enable(void)", "net/ipv4/udp.c"),
    ("void udp_set_csum(bool nocheck, struct sk_buff *skb, __be32 saddr, __be32 daddr, "
     "int len)", "net/ipv4/udp.c"),
    ("void udp6_set_csum(bool nocheck, struct sk_buff *skb, const struct in6_addr *saddr, "
     "const struct in6_addr *daddr, int len)", "net/ipv6/ip6_checksum.c"),
)

# Read only on the tunnel path: ipv6_stub->ipv6_dst_lookup_flow (udp_tunnel6_dst_lookup),
# ipv6_stub->udpv6_encap_enable (setup_udp_tunnel_sock).
TUNNEL_DATA = (
    ("const struct ipv6_stub *ipv6_stub", "net/ipv6/addrconf_core.c"),
)


WHAT = "no UDP tunnel socket can be made here: no netlink, no sockets"
declare(TUNNEL_PATH, WHY, unmodelled(WHAT), __name__)
declare_untouched(TUNNEL_DATA, WHY_DATA, __name__)


@data("const struct udp_tunnel_nic_ops *udp_tunnel_nic_ops", "net/ipv4/udp_tunnel_stub.c", 8)
def udp_tunnel_nic_ops(machine, address):
    """NULL until udp_tunnel_nic_init_module sets it to &__udp_tunnel_nic_ops (under the
    RTNL); udp_tunnel_nic_cleanup_module sets it back to NULL. Only the tunnel path
    (udp_tunnel_push_rx_port and friends, include/net/udp_tunnel.h) calls through it."""
    return bytes(8)
