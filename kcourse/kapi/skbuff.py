"""Protocol handlers and the packet path: dev_add_pack, dev_remove_pack, synchronize_net
(net/core/dev.c), synchronize_rcu, kvfree_call_rcu (kernel/rcu/tree.c), and the sk_buff
functions, which stop.

dev_add_pack links the module's struct packet_type into the kernel's list for its type, as
ptype_head picks it (ETH_P_ALL: ptype_all or the device's; else ptype_base[ntohs(type) & 15]
or the device's ptype_specific), with list_add_rcu on the module's own pt->list;
__dev_remove_pack unlinks it (list_del_rcu: prev poisoned), or warns "dev_remove_pack: %p not
found". No packet ever arrives here, so the handlers' func is never called.

synchronize_rcu returns at once: nothing here is inside an RCU read-side section when a
module's init or exit runs (one called inside rcu_read_lock stops with one line), and
kvfree_call_rcu frees at once for the same reason (the grace period is not modelled).

The simulator carries no packets: nothing sends or receives one (there is no socket, no
`ip link`), so no sk_buff exists. The functions of the packet path that Debian's net modules
(llc, stp, garp, mrp, dummy) and LKMPG's vnetloop call from their transmit and receive code
are declared with their prototypes so that those modules' init and exit run, and each stops
with one line if it is ever called.
"""

from __future__ import annotations

from kcourse.kapi import printk, rcu
from kcourse.kapi.registry import function
from kcourse.kapi.stops import declare
from kcourse.kapi.vfsfile import limit
from kcourse.kernel import structs as S

PT = {m[0]: m[1] for m in S.members("packet_type")}
ETH_P_ALL = 0x0003
PTYPE_HASH_SIZE = 16
LIST_POISON2 = 0xDEAD_0000_0000_0122  # include/linux/poison.h with POISON_POINTER_DELTA
KVFREE_RCU_OFFSET = 4096  # __is_kvfree_rcu_offset: an offset, not a callback


def _head(machine, pt: int) -> int:
    """ptype_head (net/core/dev.c)."""
    space = machine.space
    ptype = int.from_bytes(space.read(pt + PT["type"], 2), "big")  # a __be16
    dev = space.read_u64(pt + PT["dev"])
    if dev:
        from kcourse.kapi.netdev import ND

        return dev + ND["ptype_all" if ptype == ETH_P_ALL else "ptype_specific"]
    heads = machine.objects.get("ptype_heads")
    if heads is None:  # ptype_all, then ptype_base[PTYPE_HASH_SIZE]: empty list heads
        base = machine.kernel_alloc(16 * (PTYPE_HASH_SIZE + 1))
        heads = machine.objects["ptype_heads"] = [base + 16 * i
                                                  for i in range(PTYPE_HASH_SIZE + 1)]
        for head in heads:
            space.write_u64(head, head)
            space.write_u64(head + 8, head)
    return heads[0] if ptype == ETH_P_ALL else heads[1 + (ptype & (PTYPE_HASH_SIZE - 1))]


@function("void dev_add_pack(struct packet_type *pt)", "net/core/dev.c")
def dev_add_pack(call, pt):
    space = call.machine.space
    head = _head(call.machine, pt)
    new, first = pt + PT["list"], space.read_u64(head)
    space.write_u64(new, first)  # list_add_rcu(new, head)
    space.write_u64(new + 8, head)
    space.write_u64(first + 8, new)
    space.write_u64(head, new)


class _Args:
    def __init__(self, *values: int):
        self.values = list(values)

    def next_u64(self) -> int:
        return self.values.pop(0)


@function("void __dev_remove_pack(struct packet_type *pt)", "net/core/dev.c")
def __dev_remove_pack(call, pt):
    space = call.machine.space
    head = _head(call.machine, pt)
    entry, at = pt + PT["list"], space.read_u64(head)
    for _ in range(1 << 16):
        if at == head:
            break
        if at == entry:
            nxt, prev = space.read_u64(entry), space.read_u64(entry + 8)
            space.write_u64(prev, nxt)  # list_del_rcu
            space.write_u64(nxt + 8, prev)
            space.write_u64(entry + 8, LIST_POISON2)
            return
        at = space.read_u64(at)
    text = printk.format_call(call, b"\0014dev_remove_pack: %p not found\n", 256, _Args(pt))
    call.kernel.log.printk(text.decode("utf-8", "surrogateescape"))


def _no_rcu_reader(call, what: str) -> None:
    if rcu.depth(call.machine) > 0:
        raise limit(f"kcourse: {call.site} calls {what}() inside rcu_read_lock(): it would "
                    "wait for its own read-side section (the warnings are not modelled)")


@function("void synchronize_rcu(void)", "kernel/rcu/tree.c")
def synchronize_rcu(call):
    _no_rcu_reader(call, "synchronize_rcu")


@function("void synchronize_net(void)", "net/core/dev.c")
def synchronize_net(call):
    _no_rcu_reader(call, "synchronize_net")  # synchronize_rcu[_expedited]


@function("void dev_remove_pack(struct packet_type *pt)", "net/core/dev.c")
def dev_remove_pack(call, pt):
    __dev_remove_pack(call, pt)
    synchronize_net(call)


@function("void kvfree_call_rcu(struct rcu_head *head, rcu_callback_t func)",
          "kernel/rcu/tree.c")
def kvfree_call_rcu(call, head, func):
    """kfree_rcu(ptr, rhf): head is &ptr->rhf and func its offset; kvfree_rcu(ptr): head
    NULL and func the pointer (include/linux/rcupdate.h kvfree_rcu_arg_2, _arg_1)."""
    if head and func >= KVFREE_RCU_OFFSET:
        raise limit(f"kcourse: {call.site} passes kvfree_call_rcu() a callback, not an "
                    "offset: call_rcu's deferred callbacks are not modelled")
    pointer = head - func if head else func
    memory = call.kernel.memory
    alloc = next((a for a in memory.outstanding() if a.address == pointer), None)
    if alloc is not None and alloc.kind == "vmalloc":
        from kcourse.kapi.slab import vfree

        vfree(call, pointer)
    else:
        from kcourse.kapi.slab import kfree

        kfree(call, pointer)


# ---------------------------------------------------------------- the packet path: stops
PACKET_PATH = (
    ("struct sk_buff *__alloc_skb(unsigned int size, gfp_t priority, int flags, int node)",
     "net/core/skbuff.c"),
    ("struct sk_buff *skb_clone(struct sk_buff *skb, gfp_t priority)", "net/core/skbuff.c"),
    ("struct sk_buff *skb_copy(const struct sk_buff *skb, gfp_t priority)",
     "net/core/skbuff.c"),
    ("void *skb_push(struct sk_buff *skb, unsigned int len)", "net/core/skbuff.c"),
    ("void *skb_pull(struct sk_buff *skb, unsigned int len)", "net/core/skbuff.c"),
    ("void *__pskb_pull_tail(struct sk_buff *skb, int delta)", "net/core/skbuff.c"),
    ("int pskb_trim_rcsum_slow(struct sk_buff *skb, unsigned int len)", "net/core/skbuff.c"),
    ("int skb_copy_bits(const struct sk_buff *skb, int offset, void *to, int len)",
     "net/core/skbuff.c"),
    ("struct sk_buff *skb_dequeue(struct sk_buff_head *list)", "net/core/skbuff.c"),
    ("void skb_queue_tail(struct sk_buff_head *list, struct sk_buff *newsk)",
     "net/core/skbuff.c"),
    ("void consume_skb(struct sk_buff *skb)", "net/core/skbuff.c"),
    ("void kfree_skb_reason(struct sk_buff *skb, enum skb_drop_reason reason)",
     "net/core/skbuff.c"),
    ("void skb_tstamp_tx(struct sk_buff *orig_skb, struct skb_shared_hwtstamps *hwtstamps)",
     "net/core/skbuff.c"),
    ("void skb_clone_tx_timestamp(struct sk_buff *skb)", "net/core/timestamping.c"),
    ("int __dev_queue_xmit(struct sk_buff *skb, struct net_device *sb_dev)", "net/core/dev.c"),
    ("int netif_rx(struct sk_buff *skb)", "net/core/dev.c"),
    ("__be16 eth_type_trans(struct sk_buff *skb, struct net_device *dev)",
     "net/ethernet/eth.c"),
)
# A device's multicast address list (garp and mrp join their group address when an
# application starts on a device, from 8021q's vlan code): not modelled either.
MULTICAST = (
    ("int dev_mc_add(struct net_device *dev, const unsigned char *addr)",
     "net/core/dev_addr_lists.c"),
    ("int dev_mc_del(struct net_device *dev, const unsigned char *addr)",
     "net/core/dev_addr_lists.c"),
)
WHY = {"packet": "the simulator carries no network packets (no sk_buff is ever made here)",
       "multicast": "a device's multicast address list is not modelled"}


for _why, _table in (("packet", PACKET_PATH), ("multicast", MULTICAST)):
    declare(_table, WHY[_why], f": {WHY[_why]}", __name__)
