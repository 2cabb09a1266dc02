"""The switchdev notifier chain (net/switchdev/switchdev.c), init_net's nexthop notifier
chain (net/ipv4/nexthop.c) and the table of rtnetlink message handlers
(net/core/rtnetlink.c rtnl_msg_handlers), as a module's init and exit use them.

register_switchdev_notifier links a notifier_block into switchdev_notif_chain (an atomic
chain: no replay); register_nexthop_notifier replays the namespace's nexthops to it
(nexthops_dump: there are none, no `ip nexthop` here) and links it into
net->nexthop.notifier_chain. Both keep the chain ordered by priority, as
notifier_chain_register does (kernel/notifier.c); unregistering a block that is not there
is -ENOENT. A block registered twice is the kernel's WARN "notifier callback %ps already
registered": that report is not modelled, the call stops with one line instead. Nobody
calls these chains here: switchdev events come from a switch driver's offload, nexthop
events from `ip nexthop`, neither of which exists in the simulator.

__rtnl_register_many and rtnl_register_module record each handler's (protocol, msgtype)
with its owner, doit, dumpit and flags, as rtnl_register_internal does (a second
registration of the same pair by the same owner with the same functions merges, as the
kernel's kmemdup of the old entry does); __rtnl_unregister_many (in reverse order) and
rtnl_unregister take them away again, rtnl_unregister returning -ENOENT for a protocol
that has no table; rtnl_unregister_all drops a protocol's table. The kernel's
own handlers (rtnetlink_init, neighbour, fib_rules, devinet, addrconf, nexthop, the
qdisc/filter/action code, ...) are not in the table; a module registering a pair one of
them holds on Debian's kernel (KERNEL_RTNL below) stops with one line, since the kernel's
WARN_ON for a different doit and the lost handler are not modelled. No netlink socket
exists here, so no handler is ever called. The table's own memory (the kzalloc'd struct
rtnl_link) is the kernel's and not in the memory ledger.

A load the simulator stopped takes its blocks and handlers away with its other state
(Kernel.forget_objects).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kcourse.kapi import net_namespace as NS
from kcourse.kapi.abi import to_c
from kcourse.kapi.registry import function
from kcourse.kapi.vfsfile import limit
from kcourse.kernel import structs as S

ENOENT = 2
# include/net/rtnetlink.h struct rtnl_msg_handler: owner, protocol, msgtype, doit, dumpit,
# flags (not in structs.json: vmlinux's BTF has no user of it)
HANDLER_SIZE, H_OWNER, H_PROTOCOL, H_MSGTYPE, H_DOIT, H_DUMPIT, H_FLAGS = 40, 0, 8, 12, 16, \
    24, 32
RTM_BASE, RTM_MAX = 16, 123  # include/uapi/linux/rtnetlink.h (__RTM_MAX - 1)
RTNL_FAMILY_MAX = 129
PF_UNSPEC, PF_INET, PF_BRIDGE, PF_INET6, RTNL_FAMILY_IPMR, RTNL_FAMILY_IP6MR = \
    0, 2, 7, 10, 128, 129
# The (protocol, msgtype) pairs Debian's 6.1 kernel registers itself (built in: rtnl_register
# and rtnl_register_module calls in net/core/{rtnetlink,neighbour,fib_rules,net_namespace}.c,
# net/ipv4/{devinet,fib_frontend,ipmr,nexthop,route}.c, net/ipv6/{addrconf,addrlabel,ip6_fib,
# ip6mr,route}.c, net/sched/{act_api,cls_api,sch_api}.c, net/dcb/dcbnl.c; the msgtype numbers
# are include/uapi/linux/rtnetlink.h's enum).
KERNEL_RTNL = {
    PF_UNSPEC: {16, 17, 18, 19, 22, 26, 28, 29, 30, 32, 33, 34, 36, 37, 38, 40, 41, 42, 44,
                45, 46, 48, 49, 50, 66, 67, 78, 79, 82, 88, 90, 94, 95, 100, 101, 102, 104,
                105, 106, 108, 109, 118},
    PF_INET: {20, 21, 22, 24, 25, 26, 82, 104, 106},
    PF_BRIDGE: {17, 18, 19, 28, 29, 30},
    PF_INET6: {18, 20, 21, 22, 24, 25, 26, 58, 62, 72, 73, 74, 82, 104, 106},
    RTNL_FAMILY_IPMR: {18, 24, 25, 26},
    RTNL_FAMILY_IP6MR: {26},
}
NB_NEXT = S.offsetof("notifier_block", "next")


@dataclass
class Chains:
    switchdev: list[int] = field(default_factory=list)  # notifier_block *, priority order
    nexthop: list[int] = field(default_factory=list)  # init_net's nexthop.notifier_chain
    # (protocol, msgtype) -> [owner, doit, dumpit, flags]
    rtnl: dict[tuple[int, int], list[int]] = field(default_factory=dict)
    tables: set[int] = field(default_factory=set)  # protocols a module gave a table
    owners: dict[object, object] = field(default_factory=dict)  # nb or (proto, msg) -> Module


def _forget(chains: Chains, mod) -> None:
    mine = {x for x, owner in chains.owners.items() if owner is mod}
    chains.switchdev[:] = [nb for nb in chains.switchdev if nb not in mine]
    chains.nexthop[:] = [nb for nb in chains.nexthop if nb not in mine]
    for key in [k for k in chains.rtnl if k in mine]:
        del chains.rtnl[key]
    for x in mine:
        del chains.owners[x]


def state(machine) -> Chains:
    chains = machine.objects.get("net_chains")
    if chains is None:
        chains = machine.objects["net_chains"] = Chains()
        machine.objects.setdefault("forget", []).append(lambda mod: _forget(chains, mod))
    return chains


# ---------------------------------------------------------------- notifier chains
def _priority(machine, nb: int) -> int:
    return to_c(int.from_bytes(machine.space.read(nb + NS.NB["priority"], 4), "little"), 32,
                True)


def _link(machine, chain: list[int]) -> None:
    """The blocks' next pointers, as the kernel's singly linked chain has them."""
    for i, nb in enumerate(chain):
        machine.space.write_u64(nb + NB_NEXT, chain[i + 1] if i + 1 < len(chain) else 0)


def chain_register(call, chain: list[int], nb: int, what: str) -> int:
    """notifier_chain_register(nl, n, false) (kernel/notifier.c)."""
    machine = call.machine
    if nb in chain:
        raise limit(f"kcourse: {call.site} registers notifier_block {nb:#x} on the {what} "
                    "twice (the kernel's WARN \"already registered\" and -EEXIST are not "
                    "modelled)")
    prio = _priority(machine, nb)
    at = 0
    while at < len(chain) and _priority(machine, chain[at]) >= prio:
        at += 1
    chain.insert(at, nb)
    _link(machine, chain)
    state(machine).owners[nb] = call.caller
    return 0


def chain_unregister(call, chain: list[int], nb: int) -> int:
    """notifier_chain_unregister: -ENOENT for a block that is not on the chain."""
    if nb not in chain:
        return -ENOENT
    chain.remove(nb)
    _link(call.machine, chain)
    state(call.machine).owners.pop(nb, None)
    return 0


@function("int register_switchdev_notifier(struct notifier_block *nb)",
          "net/switchdev/switchdev.c")
def register_switchdev_notifier(call, nb):
    return chain_register(call, state(call.machine).switchdev, nb, "switchdev_notif_chain")


@function("int unregister_switchdev_notifier(struct notifier_block *nb)",
          "net/switchdev/switchdev.c")
def unregister_switchdev_notifier(call, nb):
    return chain_unregister(call, state(call.machine).switchdev, nb)


def _init_net_only(call, net: int, what: str) -> None:
    if net != NS.init_net(call.machine):
        raise limit(f"kcourse: {call.site} passes {what}() {net:#x}, which is not init_net "
                    "(the only network namespace here)")


@function("int register_nexthop_notifier(struct net *net, struct notifier_block *nb, "
          "struct netlink_ext_ack *extack)", "net/ipv4/nexthop.c")
def register_nexthop_notifier(call, net, nb, extack):
    """rtnl_lock, nexthops_dump (no nexthops here), blocking_notifier_chain_register."""
    _init_net_only(call, net, "register_nexthop_notifier")
    from kcourse.kapi import netdev as N

    N.rtnl_lock(call)
    try:
        return chain_register(call, state(call.machine).nexthop, nb,
                              "nexthop notifier chain")
    finally:
        N.rtnl_unlock(call)


@function("int unregister_nexthop_notifier(struct net *net, struct notifier_block *nb)",
          "net/ipv4/nexthop.c")
def unregister_nexthop_notifier(call, net, nb):
    """rtnl_lock, blocking_notifier_chain_unregister, then nexthops_dump(NEXTHOP_EVENT_DEL):
    no nexthops here."""
    _init_net_only(call, net, "unregister_nexthop_notifier")
    from kcourse.kapi import netdev as N

    N.rtnl_lock(call)
    try:
        return chain_unregister(call, state(call.machine).nexthop, nb)
    finally:
        N.rtnl_unlock(call)


# ---------------------------------------------------------------- rtnetlink handlers
def _check(call, protocol: int, msgtype: int | None) -> None:
    if not 0 <= protocol <= RTNL_FAMILY_MAX:  # BUG_ON(protocol < 0 || > RTNL_FAMILY_MAX)
        raise limit(f"kcourse: {call.site} names rtnetlink protocol {protocol}, which is a "
                    "BUG() (its oops is not modelled)")
    if msgtype is not None and not RTM_BASE <= msgtype <= RTM_MAX:
        raise limit(f"kcourse: {call.site} names rtnetlink msgtype {msgtype}, outside "
                    "RTM_BASE..RTM_MAX (rtm_msgindex's WARN and the access out of the table "
                    "are not modelled)")


def _tables(chains: Chains) -> set[int]:
    """The protocols rtnl_msg_handlers[] has a table for: the kernel's own, and each one a
    module has registered a handler in (a table is freed only by rtnl_unregister_all)."""
    return set(KERNEL_RTNL) | chains.tables


def _register(call, owner: int, protocol: int, msgtype: int, doit: int, dumpit: int,
              flags: int) -> int:
    """rtnl_register_internal (net/core/rtnetlink.c:207), under the RTNL."""
    from kcourse.kapi import netdev as N

    _check(call, protocol, msgtype)
    if msgtype in KERNEL_RTNL.get(protocol, ()):
        raise limit(f"kcourse: {call.site} registers an rtnetlink handler for protocol "
                    f"{protocol} msgtype {msgtype}, which the kernel's own code handles; "
                    "the simulator does not model the kernel's handlers")
    chains = state(call.machine)
    N.rtnl_lock(call)
    try:
        link = chains.rtnl.get((protocol, msgtype))
        if link is not None and (link[0] and link[0] != owner or doit and link[1] and
                                 link[1] != doit or dumpit and link[2] and link[2] != dumpit):
            raise limit(f"kcourse: {call.site} registers a second rtnetlink handler for "
                        f"protocol {protocol} msgtype {msgtype} (the kernel's WARN_ON is not "
                        "modelled)")
        link = link or [0, 0, 0, 0]  # kmemdup of the old entry, or kzalloc
        link[0] = owner
        link[1] = doit or link[1]
        link[2] = dumpit or link[2]
        link[3] |= flags
        chains.rtnl[(protocol, msgtype)] = link
        chains.tables.add(protocol)
        chains.owners[(protocol, msgtype)] = call.caller
        return 0
    finally:
        N.rtnl_unlock(call)


def _unregister(call, protocol: int, msgtype: int) -> int:
    """rtnl_unregister (net/core/rtnetlink.c:324): -ENOENT without a table for the protocol;
    otherwise the entry is set to NULL and freed after a grace period (an entry never
    registered is a kfree_rcu of NULL: nothing)."""
    from kcourse.kapi import netdev as N

    _check(call, protocol, msgtype)
    if msgtype in KERNEL_RTNL.get(protocol, ()):
        raise limit(f"kcourse: {call.site} unregisters the kernel's own rtnetlink handler for "
                    f"protocol {protocol} msgtype {msgtype} (the kernel's handlers are not "
                    "modelled)")
    chains = state(call.machine)
    N.rtnl_lock(call)
    try:
        if protocol not in _tables(chains):
            return -ENOENT
        chains.rtnl.pop((protocol, msgtype), None)
        chains.owners.pop((protocol, msgtype), None)
        return 0
    finally:
        N.rtnl_unlock(call)


def _from_array(call, at: int) -> tuple[int, int, int, int, int, int]:
    """One struct rtnl_msg_handler: owner, protocol, msgtype, doit, dumpit, flags."""
    space = call.machine.space

    def s32(off: int) -> int:
        return to_c(int.from_bytes(space.read(at + off, 4), "little"), 32, True)

    return (space.read_u64(at + H_OWNER), s32(H_PROTOCOL), s32(H_MSGTYPE),
            space.read_u64(at + H_DOIT), space.read_u64(at + H_DUMPIT), s32(H_FLAGS))


def _count(call, n: int, what: str) -> int:
    if n > 4096:
        raise limit(f"kcourse: {call.site} passes {what}() {n} handlers, more than the "
                    "simulator walks")
    return n


@function("int rtnl_register_module(struct module *owner, int protocol, int msgtype, "
          "rtnl_doit_func doit, rtnl_dumpit_func dumpit, unsigned int flags)",
          "net/core/rtnetlink.c")
def rtnl_register_module(call, owner, protocol, msgtype, doit, dumpit, flags):
    """The model's only error would be -ENOBUFS for a failed allocation, which does not
    happen here."""
    return _register(call, owner, protocol, msgtype, doit, dumpit, flags)


@function("int rtnl_unregister(int protocol, int msgtype)", "net/core/rtnetlink.c")
def rtnl_unregister(call, protocol, msgtype):
    return _unregister(call, protocol, msgtype)


@function("void rtnl_unregister_all(int protocol)", "net/core/rtnetlink.c")
def rtnl_unregister_all(call, protocol):
    """The protocol's whole table goes: every entry, then the table itself."""
    from kcourse.kapi import netdev as N

    _check(call, protocol, None)
    if protocol in KERNEL_RTNL:
        raise limit(f"kcourse: {call.site} unregisters every rtnetlink handler of protocol "
                    f"{protocol}, the kernel's own among them (not modelled)")
    chains = state(call.machine)
    N.rtnl_lock(call)
    try:
        for key in [k for k in chains.rtnl if k[0] == protocol]:
            del chains.rtnl[key]
            chains.owners.pop(key, None)
        chains.tables.discard(protocol)
    finally:
        N.rtnl_unlock(call)


@function("int __rtnl_register_many(const struct rtnl_msg_handler *handlers, int n)",
          "net/core/rtnetlink.c")
def __rtnl_register_many(call, handlers, n):
    """Each handler in turn; on an error the ones registered are unregistered. The model's
    only error is the kernel's -ENOBUFS for a failed allocation, which does not happen here,
    so it returns 0 (err starts uninitialised in the kernel's loop, so n = 0 returns
    whatever was in its register: not modelled, n = 0 stops)."""
    if n <= 0:
        raise limit(f"kcourse: {call.site} passes __rtnl_register_many() n = {n}: the "
                    "kernel returns an uninitialised value then (not modelled)")
    for i in range(_count(call, n, "__rtnl_register_many")):
        _register(call, *_from_array(call, handlers + i * HANDLER_SIZE))
    return 0


@function("void __rtnl_unregister_many(const struct rtnl_msg_handler *handlers, int n)",
          "net/core/rtnetlink.c")
def __rtnl_unregister_many(call, handlers, n):
    """rtnl_unregister for each handler, the last first."""
    for i in reversed(range(_count(call, max(n, 0), "__rtnl_unregister_many"))):
        _owner, protocol, msgtype, *_rest = _from_array(call, handlers + i * HANDLER_SIZE)
        _unregister(call, protocol, msgtype)
