"""Network devices: alloc_netdev_mqs, ether_setup, register_netdevice, unregister_netdevice,
free_netdev, the RTNL lock, rtnl_link_ops and carrier state (net/core/dev.c,
net/ethernet/eth.c, net/core/rtnetlink.c, net/sched/sch_generic.c).

The struct net_device is the kernel's own, in emulated memory at the layout of Debian's 6.1
(data/kernel/structs.json): the module's code writes netdev_ops, flags, features and mtu into
it, and everything the kernel side says about the device (its name, /sys/class/net/<name>/*,
kcourse.kapi.netdev_sysfs) is read back from it. The kernel keeps its list of devices here
(init_net's dev_base_head), with ifindex numbering as dev_new_index does it: lo is 1, each new
device takes the next number, and numbers are not reused.

alloc_netdev_mqs kvzallocs the device (owned by the calling module in the memory ledger),
sets what it sets (net/core/dev.c:10763) and calls the setup function the caller passes
(ether_setup or the module's own). register_netdevice (dev.c:10158) checks and expands the
name (dev_get_valid_name: "%d" takes the lowest free number), calls ndo_init, gives the
ifindex, fills in the features as it does, marks the device present and registered and adds
/sys/class/net/<name>. unregister_netdevice_queue closes nothing (no device is ever up here),
calls ndo_uninit and removes the sysfs directory; the RTNL's unlock then runs the todo list
(netdev_run_todo): the device becomes NETREG_UNREGISTERED, and a device with
needs_free_netdev gets its priv_destructor and free_netdev. rtnl_link_ops are kept in
link_ops (__rtnl_link_register, rtnl_link_unregister kills the devices of its kind).

Not modelled, each stops with one line when reached: bringing a device up or down (nothing
here opens one: there is no `ip link`), netdevice notifiers (no protocol module listens
here), per-CPU statistics that register_netdevice would allocate itself (pcpu_stat_type), and
the packet path (kcourse.kapi.skbuff). ASSERT_RTNL's warning is not printed: a call without
the RTNL stops with one line instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kcourse.kapi.abi import to_c
from kcourse.kapi.registry import function
from kcourse.kapi.slab import _allocated
from kcourse.kapi.vfsfile import limit
from kcourse.kernel import structs as S

ND = {m[0]: m[1] for m in S.members("net_device")}
NDO = {m[0]: m[1] for m in S.members("net_device_ops")}
LINK = {m[0]: m[1] for m in S.members("rtnl_link_ops")}
NET_DEVICE_SIZE = S.sizeof("net_device")
NETDEV_ALIGN, IFNAMSIZ, MAX_ADDR_LEN, ETH_ALEN = 32, 16, 32, 6
NET_NAME_UNKNOWN, NET_NAME_ENUM = 0, 1
NET_ADDR_PERM, NET_ADDR_RANDOM = 0, 1
# include/uapi/linux/if.h net_device_flags; include/linux/netdevice.h netdev_priv_flags
IFF_UP, IFF_BROADCAST, IFF_LOOPBACK, IFF_MULTICAST = 0x1, 0x2, 0x8, 0x1000
IFF_XMIT_DST_RELEASE, IFF_TX_SKB_SHARING = 1 << 5, 1 << 11
IFF_LIVE_ADDR_CHANGE, IFF_XMIT_DST_RELEASE_PERM, IFF_NO_QUEUE = 1 << 15, 1 << 17, 1 << 19
# include/linux/netdevice.h enum netdev_state_t and enum netdev_reg_state
LINK_STATE_START, LINK_STATE_PRESENT, LINK_STATE_NOCARRIER = 0, 1, 2
NETREG_UNINITIALIZED, NETREG_REGISTERED, NETREG_UNREGISTERING = 0, 1, 2
NETREG_UNREGISTERED, NETREG_RELEASED = 3, 4
ARPHRD_ETHER, ETH_HLEN, ETH_DATA_LEN, ETH_MIN_MTU = 1, 14, 1500, 68
DEFAULT_TX_QUEUE_LEN = 1000
GSO_LEGACY_MAX_SIZE, GSO_MAX_SEGS = 65536, 65535  # include/linux/netdevice.h
TSO_LEGACY_MAX_SIZE, TSO_MAX_SEGS = 65536, 65535
# include/linux/netdev_features.h: the NETIF_F_*_BIT enumerators as that enum counts them;
# NETIF_F_SOFT_FEATURES = GSO | GRO, NETIF_F_SOFT_FEATURES_OFF = GRO_FRAGLIST | GRO_UDP_FWD
F_SG, F_HIGHDMA, F_HW_VLAN_CTAG_FILTER, F_GSO, F_GRO = 1 << 0, 1 << 5, 1 << 9, 1 << 11, 1 << 14
F_TSO, F_TSO_MANGLEID, F_GSO_PARTIAL, F_NOCACHE_COPY = 1 << 16, 1 << 19, 1 << 28, 1 << 41
F_GRO_FRAGLIST, F_GRO_UDP_FWD = 1 << 57, 1 << 59
F_IP_CSUM, F_HW_CSUM, F_IPV6_CSUM, F_LRO, F_TSO_ECN, F_TSO6 = 1 << 1, 1 << 3, 1 << 4, \
    1 << 15, 1 << 18, 1 << 20
F_RXCSUM, F_RXFCS, F_GRO_HW = 1 << 40, 1 << 43, 1 << 55
F_ALL_TSO = F_TSO | F_TSO6 | F_TSO_ECN | F_TSO_MANGLEID
F_SOFT, F_SOFT_OFF = F_GSO | F_GRO, F_GRO_FRAGLIST | F_GRO_UDP_FWD
EINVAL, EEXIST, ENFILE, EIO, EBUSY, EADDRNOTAVAIL = 22, 17, 23, 5, 16, 99
LOOPBACK_IFINDEX = 1  # include/net/flow.h: lo, registered at boot (loopback_net_init)


@dataclass
class NetState:
    """init_net's devices and the RTNL (net/core/dev.c, rtnetlink.c)."""

    devices: dict[int, int] = field(default_factory=dict)  # ifindex -> struct net_device *
    ifindex: int = LOOPBACK_IFINDEX  # net->ifindex: the last one given
    rtnl: int = 0  # rtnl_mutex held (a mutex: 0 or 1)
    todo: list[int] = field(default_factory=list)  # net_todo_list: run at rtnl_unlock
    link_ops: list[int] = field(default_factory=list)  # struct rtnl_link_ops *
    kill: dict[int, list[int]] = field(default_factory=dict)  # a LIST_HEAD: its devices
    owners: dict[int, object] = field(default_factory=dict)  # net_device -> module (ledger)


def state(machine) -> NetState:
    net = machine.objects.setdefault("netdev", NetState())
    # A load the simulator stopped takes its module's sysfs entries away (NodeTable.forget):
    # its devices go from the list with them, so their names and numbers are free again
    # (ifindex still moves on, as dev_new_index's does).
    nodes = machine.kernel.nodes
    for ifindex, dev in list(net.devices.items()):
        node = nodes.get(f"/sys/class/net/{name_of(machine, dev)}")
        if node is None or node.data.get("net_device") != dev:
            del net.devices[ifindex]
    return net


# ---------------------------------------------------------------- reading the device
def u8(machine, dev: int, name: str) -> int:
    return machine.space.read(dev + ND[name], 1)[0]


def u16(machine, dev: int, name: str) -> int:
    return int.from_bytes(machine.space.read(dev + ND[name], 2), "little")


def u32(machine, dev: int, name: str) -> int:
    return int.from_bytes(machine.space.read(dev + ND[name], 4), "little")


def u64(machine, dev: int, name: str) -> int:
    return machine.space.read_u64(dev + ND[name])


def put(machine, dev: int, name: str, value: int, size: int) -> None:
    machine.space.write(dev + ND[name], (value & ((1 << 8 * size) - 1)).to_bytes(size, "little"))


def name_of(machine, dev: int) -> str:
    raw = machine.space.read(dev + ND["name"], IFNAMSIZ)
    return raw.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def running(machine, dev: int) -> bool:
    """netif_running: __LINK_STATE_START (dev_open sets it)."""
    return bool(u64(machine, dev, "state") >> LINK_STATE_START & 1)


def dev_addr(machine, dev: int) -> bytes:
    length = u8(machine, dev, "addr_len")
    return machine.space.read(u64(machine, dev, "dev_addr"), length)


def _ops(machine, dev: int, name: str) -> int:
    ops = u64(machine, dev, "netdev_ops")
    return machine.space.read_u64(ops + NDO[name]) if ops else 0


def _call_int(call, fn: int, *args: int) -> int:
    return to_c(call.machine.call(fn, *args), 32, True)


def _need_rtnl(call, what: str) -> None:
    if not state(call.machine).rtnl:
        raise limit(f"kcourse: {call.site} calls {what}() without the RTNL held "
                    "(ASSERT_RTNL's warning is not modelled)")


# ---------------------------------------------------------------- allocation
def _default_ethtool_ops(machine) -> int:
    """default_ethtool_ops (net/core/dev.c): no methods set."""
    ops = machine.objects.get("default_ethtool_ops")
    if ops is None:
        ops = machine.objects["default_ethtool_ops"] = machine.kernel_alloc(1024)
    return ops


def _init_list(machine, dev: int, name: str) -> None:
    at = dev + ND[name]
    machine.space.write_u64(at, at)
    machine.space.write_u64(at + 8, at)


@function("struct net_device *alloc_netdev_mqs(int sizeof_priv, const char *name, "
          "unsigned char name_assign_type, void (*setup)(struct net_device *), "
          "unsigned int txqs, unsigned int rxqs)", "net/core/dev.c")
def alloc_netdev_mqs(call, sizeof_priv, name, name_assign_type, setup, txqs, rxqs):
    machine, log = call.machine, call.kernel.log
    if name is None:
        raise limit(f"kcourse: {call.site} passes alloc_netdev_mqs() a NULL name, which "
                    "strlen() dereferences (the oops there is not modelled)")
    if len(name) >= IFNAMSIZ:  # BUG_ON(strlen(name) >= sizeof(dev->name))
        raise limit(f"kcourse: {call.site} passes alloc_netdev_mqs() a name of "
                    f"{IFNAMSIZ} bytes or more, which is a BUG() (its oops is not modelled)")
    if txqs < 1:
        log.printk("\0013alloc_netdev: Unable to allocate device with zero queues\n")
        return 0
    if rxqs < 1:
        log.printk("\0013alloc_netdev: Unable to allocate device with zero RX queues\n")
        return 0
    size = NET_DEVICE_SIZE
    if sizeof_priv:
        size = (size + NETDEV_ALIGN - 1) // NETDEV_ALIGN * NETDEV_ALIGN + sizeof_priv
    size += NETDEV_ALIGN - 1
    owner = call.caller.name if call.caller else "kernel"
    # kvzalloc(GFP_KERNEL_ACCOUNT | __GFP_RETRY_MAYFAIL): the kmalloc path for these sizes
    p = _allocated(call, call.kernel.memory.kmalloc(owner=owner, size=size, gfp="GFP_KERNEL",
                                                    site=call.site, zero=True))
    if not p:
        return 0
    dev = (p + NETDEV_ALIGN - 1) // NETDEV_ALIGN * NETDEV_ALIGN
    state(machine).owners[dev] = p
    put(machine, dev, "padded", dev - p, 2)
    put(machine, dev, "pcpu_refcnt", 0, 8)  # CONFIG_PCPU_DEV_REFCNT: the count is not kept
    addr = machine.kernel_alloc(MAX_ADDR_LEN)  # dev_addr_init: the netdev_hw_addr's addr
    put(machine, dev, "dev_addr", addr, 8)
    put(machine, dev, "nd_net", machine.objects.setdefault("init_net",
                                                           machine.kernel_alloc(64)), 8)
    put(machine, dev, "gso_max_size", GSO_LEGACY_MAX_SIZE, 4)
    put(machine, dev, "gso_max_segs", GSO_MAX_SEGS, 2)
    put(machine, dev, "gro_max_size", GSO_LEGACY_MAX_SIZE, 4)  # GRO_LEGACY_MAX_SIZE
    put(machine, dev, "tso_max_size", TSO_LEGACY_MAX_SIZE, 4)
    put(machine, dev, "tso_max_segs", TSO_MAX_SEGS, 2)
    put(machine, dev, "upper_level", 1, 1)
    put(machine, dev, "lower_level", 1, 1)
    for name_ in ("napi_list", "unreg_list", "close_list", "link_watch_list", "adj_list.upper",
                  "adj_list.lower", "ptype_all", "ptype_specific", "net_notifier_list"):
        _init_list(machine, dev, name_)
    put(machine, dev, "priv_flags", IFF_XMIT_DST_RELEASE | IFF_XMIT_DST_RELEASE_PERM, 8)
    machine.call(setup, dev)
    if not u32(machine, dev, "tx_queue_len"):
        put(machine, dev, "priv_flags", u64(machine, dev, "priv_flags") | IFF_NO_QUEUE, 8)
        put(machine, dev, "tx_queue_len", DEFAULT_TX_QUEUE_LEN, 4)
    for field_, value in (("num_tx_queues", txqs), ("real_num_tx_queues", txqs),
                          ("num_rx_queues", rxqs), ("real_num_rx_queues", rxqs)):
        put(machine, dev, field_, value, 4)
    machine.space.write(dev + ND["name"], name + b"\0")  # strcpy(dev->name, name)
    put(machine, dev, "name_assign_type", name_assign_type, 1)
    put(machine, dev, "group", 0, 4)  # INIT_NETDEV_GROUP
    if not u64(machine, dev, "ethtool_ops"):
        put(machine, dev, "ethtool_ops", _default_ethtool_ops(machine), 8)
    return dev


@function("struct net_device *alloc_etherdev_mqs(int sizeof_priv, unsigned int txqs, "
          "unsigned int rxqs)", "net/ethernet/eth.c")
def alloc_etherdev_mqs(call, sizeof_priv, txqs, rxqs):
    """alloc_netdev_mqs(sizeof_priv, "eth%d", NET_NAME_ENUM, ether_setup, txqs, rxqs)."""
    return alloc_netdev_mqs(call, sizeof_priv, b"eth%d", NET_NAME_ENUM,
                            call.machine.address_of("ether_setup"), txqs, rxqs)


@function("void ether_setup(struct net_device *dev)", "net/ethernet/eth.c")
def ether_setup(call, dev):
    machine = call.machine
    put(machine, dev, "header_ops", machine.address_of("eth_header_ops"), 8)
    put(machine, dev, "type", ARPHRD_ETHER, 2)
    put(machine, dev, "hard_header_len", ETH_HLEN, 2)
    put(machine, dev, "min_header_len", ETH_HLEN, 1)
    put(machine, dev, "mtu", ETH_DATA_LEN, 4)
    put(machine, dev, "min_mtu", ETH_MIN_MTU, 4)
    put(machine, dev, "max_mtu", ETH_DATA_LEN, 4)
    put(machine, dev, "addr_len", ETH_ALEN, 1)
    put(machine, dev, "tx_queue_len", DEFAULT_TX_QUEUE_LEN, 4)
    put(machine, dev, "flags", IFF_BROADCAST | IFF_MULTICAST, 4)
    put(machine, dev, "priv_flags", u64(machine, dev, "priv_flags") | IFF_TX_SKB_SHARING, 8)
    machine.space.write(dev + ND["broadcast"], b"\xff" * ETH_ALEN)  # eth_broadcast_addr


@function("void dev_addr_mod(struct net_device *dev, unsigned int offset, const void *addr, "
          "size_t len)", "net/core/dev_addr_lists.c")
def dev_addr_mod(call, dev, offset, addr, len):
    machine = call.machine
    data = machine.space.read(addr, len)
    machine.space.write(u64(machine, dev, "dev_addr") + offset, data)
    machine.space.write(dev + ND["dev_addr_shadow"] + offset, data)


def _valid_ether(addr: bytes) -> bool:
    """is_valid_ether_addr (include/linux/etherdevice.h): not multicast, not all zero."""
    return not addr[0] & 1 and any(addr)


@function("int eth_validate_addr(struct net_device *dev)", "net/ethernet/eth.c")
def eth_validate_addr(call, dev):
    addr = call.machine.space.read(u64(call.machine, dev, "dev_addr"), ETH_ALEN)
    return 0 if _valid_ether(addr) else -EADDRNOTAVAIL


@function("int eth_mac_addr(struct net_device *dev, void *p)", "net/ethernet/eth.c")
def eth_mac_addr(call, dev, p):
    """eth_prepare_mac_addr_change, then eth_commit_mac_addr_change: sa_data at offset 2."""
    machine = call.machine
    live = u64(machine, dev, "priv_flags") & IFF_LIVE_ADDR_CHANGE
    if not live and running(machine, dev):
        return -EBUSY
    addr = machine.space.read(p + 2, ETH_ALEN)
    if not _valid_ether(addr):
        return -EADDRNOTAVAIL
    machine.space.write(u64(machine, dev, "dev_addr"), addr)
    return 0


# ---------------------------------------------------------------- the RTNL
@function("void rtnl_lock(void)", "net/core/rtnetlink.c")
def rtnl_lock(call):
    net = state(call.machine)
    if net.rtnl:
        raise limit(f"kcourse: {call.site} takes the RTNL, which this task holds already: "
                    "a deadlock (the hung task report is not modelled)")
    net.rtnl = 1


@function("void rtnl_unlock(void)", "net/core/rtnetlink.c")
def rtnl_unlock(call):
    """netdev_run_todo runs with the lock dropped (net/core/dev.c)."""
    net = state(call.machine)
    net.rtnl = 0
    todo, net.todo = net.todo, []
    for dev in todo:
        _run_todo(call, dev)


@function("int rtnl_is_locked(void)", "net/core/rtnetlink.c")
def rtnl_is_locked(call):
    return state(call.machine).rtnl


@function("int rtnl_trylock(void)", "net/core/rtnetlink.c")
def rtnl_trylock(call):
    net = state(call.machine)
    if net.rtnl:
        return 0
    net.rtnl = 1
    return 1


# ---------------------------------------------------------------- registration
def by_name(machine, name: str) -> int:
    return next((d for d in state(machine).devices.values() if name_of(machine, d) == name), 0)


def _valid_name(name: bytes) -> bool:
    """dev_valid_name (net/core/dev.c)."""
    if not name or len(name) >= IFNAMSIZ or name in (b".", b".."):
        return False
    return not any(c in b"/: \t\n\v\f\r" for c in name)


def _valid_name_for(call, dev: int) -> int:
    """dev_get_valid_name: "%d" becomes the lowest number no device has (__dev_alloc_name)."""
    machine = call.machine
    raw = machine.space.read(dev + ND["name"], IFNAMSIZ).split(b"\0", 1)[0]
    if not _valid_name(raw):
        return -EINVAL
    if b"%" in raw:
        at = raw.index(b"%")
        if raw[at + 1:at + 2] != b"d" or b"%" in raw[at + 2:]:
            return -EINVAL
        taken = {name_of(machine, d) for d in state(machine).devices.values()} | {"lo"}
        head, tail = raw[:at].decode("utf-8", "surrogateescape"), \
            raw[at + 2:].decode("utf-8", "surrogateescape")
        for i in range(8 * 4096):  # max_netdevices = 8 * PAGE_SIZE
            candidate = f"{head}{i}{tail}"
            if candidate not in taken:
                if len(candidate) >= IFNAMSIZ:
                    return -EINVAL
                machine.space.write(dev + ND["name"], candidate.encode() + b"\0")
                return 0
        return -ENFILE
    if by_name(machine, raw.decode("utf-8", "surrogateescape")) or raw == b"lo":
        return -EEXIST
    return 0


@function("int register_netdevice(struct net_device *dev)", "net/core/dev.c")
def register_netdevice(call, dev):
    _need_rtnl(call, "register_netdevice")
    machine = call.machine
    net = state(machine)
    if u8(machine, dev, "reg_state") != NETREG_UNINITIALIZED:
        raise limit(f"kcourse: {call.site} registers a net_device twice, a BUG() "
                    "(its oops is not modelled)")
    err = _valid_name_for(call, dev)
    if err:
        return err
    init = _ops(machine, dev, "ndo_init")
    if init:
        err = _call_int(call, init, dev)
        if err:
            return -EIO if err > 0 else err
    features = u64(machine, dev, "features")
    hw = u64(machine, dev, "hw_features")
    if (hw | features) & F_HW_VLAN_CTAG_FILTER and not (
            _ops(machine, dev, "ndo_vlan_rx_add_vid") and _ops(machine, dev,
                                                                "ndo_vlan_rx_kill_vid")):
        raise limit(f"kcourse: {call.site}: register_netdevice's netdev_WARN \"Buggy VLAN "
                    "acceleration in driver!\" is not modelled")
    if u32(machine, dev, "pcpu_stat_type"):
        raise limit(f"kcourse: {call.site} asks register_netdevice for per-CPU statistics "
                    "(pcpu_stat_type), which the simulator does not model")
    if not u32(machine, dev, "ifindex"):  # dev_new_index
        net.ifindex += 1
        while net.ifindex in net.devices:
            net.ifindex += 1
        put(machine, dev, "ifindex", net.ifindex, 4)
    elif u32(machine, dev, "ifindex") in net.devices | {LOOPBACK_IFINDEX: 0}:
        return -EBUSY
    hw |= F_SOFT | F_SOFT_OFF
    features |= F_SOFT
    put(machine, dev, "wanted_features", features & hw, 8)
    if not u32(machine, dev, "flags") & IFF_LOOPBACK:
        hw |= F_NOCACHE_COPY
    if hw & F_TSO:
        hw |= F_TSO_MANGLEID
    for name_, extra in (("vlan_features", F_HIGHDMA), ("hw_enc_features", F_SG | F_GSO_PARTIAL),
                         ("mpls_features", F_SG)):
        value = u64(machine, dev, name_)
        if value & F_TSO:
            value |= F_TSO_MANGLEID
        put(machine, dev, name_, value | extra, 8)
    put(machine, dev, "hw_features", hw, 8)
    put(machine, dev, "features", features, 8)
    put(machine, dev, "reg_state", NETREG_REGISTERED, 1)
    _update_features(call, dev)
    put(machine, dev, "state", u64(machine, dev, "state") | 1 << LINK_STATE_PRESENT, 8)
    if u8(machine, dev, "addr_assign_type") == NET_ADDR_PERM:
        machine.space.write(dev + ND["perm_addr"], dev_addr(machine, dev))
    net.devices[u32(machine, dev, "ifindex")] = dev
    from kcourse.kapi import netdev_sysfs

    netdev_sysfs.add(call, dev)
    _rtmsg_ifinfo(call, dev)  # RTM_NEWLINK
    return 0


def _rtmsg_ifinfo(call, dev: int) -> None:
    """rtmsg_ifinfo / rtmsg_ifinfo_build_skb (net/core/rtnetlink.c), sent when the device
    has no rtnl_link_ops or they are initialised: the message nobody listens to here is not
    kept, but filling it calls dev_get_stats (rtnl_fill_stats), so the device's
    ndo_get_stats64 runs, as on the real kernel. The link ops' get_size and fill_info would
    run too: those stop with one line. The other methods rtnl_fill_ifinfo may call
    (ndo_get_iflink, ndo_get_phys_port_id, ...) are not called."""
    machine = call.machine
    ops = u64(machine, dev, "rtnl_link_ops")
    if ops and _bitfield16(machine, dev, "rtnl_link_state"):
        return
    if ops:
        for method in ("get_size", "fill_info", "fill_xstats", "get_xstats_size"):
            fn = machine.space.read_u64(ops + LINK[method])
            if fn:
                raise limit(f"kcourse: {machine.symbolize(fn) or hex(fn)} is an rtnl_link_ops "
                            f"->{method}, which the simulator does not call (no netlink)")
    from kcourse.kapi import netdev_sysfs

    netdev_sysfs.dev_get_stats(machine, dev)


def _bitfield16(machine, dev: int, name: str) -> int:
    m = S.member("net_device", name)
    raw = int.from_bytes(machine.space.read(dev + m.offset, m.size), "little")
    return raw >> (m.bit_offset or 0) & ((1 << (m.bits or 8 * m.size)) - 1)


def _fix_features(call, dev: int, f: int) -> int:
    """netdev_fix_features (net/core/dev.c:9747): the rules a plain device can meet."""
    if f & F_HW_CSUM and f & (F_IP_CSUM | F_IPV6_CSUM):
        call.kernel.log.printk(f"\0014{name_of(call.machine, dev)}: mixed HW and IP checksum "
                               "settings.\n")  # netdev_warn: no parent, so "name: "
        f &= ~(F_IP_CSUM | F_IPV6_CSUM)
    if f & F_ALL_TSO and not f & F_SG:
        f &= ~F_ALL_TSO
    if f & F_TSO and not f & (F_HW_CSUM | F_IP_CSUM):
        f &= ~(F_TSO | F_TSO_ECN)
    if f & F_TSO6 and not f & (F_HW_CSUM | F_IPV6_CSUM):
        f &= ~F_TSO6
    if f & F_TSO_MANGLEID and not f & F_TSO:
        f &= ~F_TSO_MANGLEID
    if f & F_ALL_TSO == F_TSO_ECN:
        f &= ~F_TSO_ECN
    if f & F_GSO and not f & F_SG:
        f &= ~F_GSO
    if f & u64(call.machine, dev, "gso_partial_features") and not f & F_GSO_PARTIAL:
        f &= ~u64(call.machine, dev, "gso_partial_features")
    if not f & F_RXCSUM:
        f &= ~F_GRO_HW
    if f & F_RXFCS:
        f &= ~(F_LRO | F_GRO_HW)
    if f & F_GRO_HW:
        f &= ~F_LRO
    return f


def _update_features(call, dev: int) -> None:
    """__netdev_update_features (dev.c:9847) for a device with no upper or lower devices:
    the wanted features, fixed; ndo_fix_features and ndo_set_features are not called."""
    machine = call.machine
    for ndo in ("ndo_fix_features", "ndo_set_features"):
        if _ops(machine, dev, ndo):
            raise limit(f"kcourse: {machine.symbolize(_ops(machine, dev, ndo)) or ndo} is an "
                        f"{ndo} method, which the simulator does not call")
    features, hw = u64(machine, dev, "features"), u64(machine, dev, "hw_features")
    wanted = features & ~hw | u64(machine, dev, "wanted_features")  # get_wanted_features
    put(machine, dev, "features", _fix_features(call, dev, wanted), 8)


def set_mtu(call, dev: int, new: int) -> int:
    """dev_set_mtu (net/core/dev.c dev_set_mtu_ext): 0 or -errno. No notifier listens."""
    machine = call.machine
    if new == to_c(u32(machine, dev, "mtu"), 32, True):
        return 0
    max_mtu = to_c(u32(machine, dev, "max_mtu"), 32, True)
    if new < 0 or new < to_c(u32(machine, dev, "min_mtu"), 32, True) or \
            max_mtu > 0 and new > max_mtu:  # dev_validate_mtu
        return -EINVAL
    if not u64(machine, dev, "state") >> LINK_STATE_PRESENT & 1:
        return -19  # -ENODEV
    change = _ops(machine, dev, "ndo_change_mtu")
    if change:
        return _call_int(call, change, dev, new & 0xFFFF_FFFF)
    put(machine, dev, "mtu", new, 4)
    return 0


@function("int register_netdev(struct net_device *dev)", "net/core/dev.c")
def register_netdev(call, dev):
    rtnl_lock(call)  # rtnl_lock_killable: no signal is pending here
    try:
        return register_netdevice(call, dev)
    finally:
        rtnl_unlock(call)


def _unregister_many(call, devs: list[int]) -> None:
    """unregister_netdevice_many_notify (net/core/dev.c)."""
    machine = call.machine
    net = state(machine)
    for dev in devs:
        reg = u8(machine, dev, "reg_state")
        if reg == NETREG_UNINITIALIZED:
            raise limit(f"kcourse: {call.site} unregisters a net_device that was never "
                        "registered: the kernel's WARN_ON(1) there is not modelled")
        if reg != NETREG_REGISTERED:
            raise limit(f"kcourse: {call.site} unregisters {name_of(machine, dev)} again "
                        f"(reg_state {reg}): a BUG_ON (its oops is not modelled)")
    for dev in devs:
        if running(machine, dev):
            raise limit(f"kcourse: {call.site} unregisters {name_of(machine, dev)} while it "
                        "is up; closing a device (dev_close_many) is not modelled")
    for dev in devs:
        put(machine, dev, "reg_state", NETREG_UNREGISTERING, 1)
    for dev in devs:
        _rtmsg_ifinfo(call, dev)  # RTM_DELLINK, built before ndo_uninit
        uninit = _ops(machine, dev, "ndo_uninit")
        if uninit:
            machine.call(uninit, dev)
        from kcourse.kapi import netdev_sysfs

        netdev_sysfs.remove(call, dev)
        net.devices.pop(u32(machine, dev, "ifindex"), None)
        net.todo.append(dev)


def _run_todo(call, dev: int) -> None:
    """netdev_run_todo: the device is unregistered; needs_free_netdev frees it."""
    machine = call.machine
    put(machine, dev, "reg_state", NETREG_UNREGISTERED, 1)
    if u8(machine, dev, "needs_free_netdev"):
        destructor = u64(machine, dev, "priv_destructor")
        if destructor:
            machine.call(destructor, dev)
        free_netdev(call, dev)


@function("void unregister_netdevice_queue(struct net_device *dev, struct list_head *head)",
          "net/core/dev.c")
def unregister_netdevice_queue(call, dev, head):
    _need_rtnl(call, "unregister_netdevice_queue")
    if head:
        state(call.machine).kill.setdefault(head, []).append(dev)  # list_move_tail
    else:
        _unregister_many(call, [dev])


@function("void unregister_netdevice_many(struct list_head *head)", "net/core/dev.c")
def unregister_netdevice_many(call, head):
    _need_rtnl(call, "unregister_netdevice_many")
    devs = state(call.machine).kill.pop(head, [])
    if devs:
        _unregister_many(call, devs)


@function("void unregister_netdev(struct net_device *dev)", "net/core/dev.c")
def unregister_netdev(call, dev):
    rtnl_lock(call)
    try:
        _unregister_many(call, [dev])
    finally:
        rtnl_unlock(call)


@function("void free_netdev(struct net_device *dev)", "net/core/dev.c")
def free_netdev(call, dev):
    """A device never registered is freed at once; a registered one after its unregister
    (BUG_ON otherwise); the memory goes when the last reference does (netdev_release)."""
    machine = call.machine
    reg = u8(machine, dev, "reg_state")
    if reg not in (NETREG_UNINITIALIZED, NETREG_UNREGISTERED):
        raise limit(f"kcourse: {call.site} frees {name_of(machine, dev)} while it is "
                    "registered (reg_state "
                    f"{reg}): free_netdev's BUG_ON (its oops is not modelled)")
    if reg == NETREG_UNREGISTERED:
        put(machine, dev, "reg_state", NETREG_RELEASED, 1)
    p = state(machine).owners.pop(dev, None)
    if p is None:
        raise limit(f"kcourse: {call.site} passes free_netdev() {dev:#x}, which is no "
                    "net_device alloc_netdev_mqs made (or one freed already)")
    from kcourse.kapi.slab import kfree

    kfree(call, p)


# ---------------------------------------------------------------- carrier
def _carrier(call, dev: int, on: bool) -> None:
    """netif_carrier_on/off (net/sched/sch_generic.c): the NOCARRIER bit; a change on a
    registered device counts in carrier_up_count/carrier_down_count and fires the
    linkwatch event (the operstate it would recompute matters only for a running device,
    and none runs here)."""
    machine = call.machine
    old = u64(machine, dev, "state")
    bit = 1 << LINK_STATE_NOCARRIER
    new = old & ~bit if on else old | bit
    if new == old:
        return
    put(machine, dev, "state", new, 8)
    if u8(machine, dev, "reg_state") == NETREG_UNINITIALIZED:
        return
    counter = "carrier_up_count" if on else "carrier_down_count"
    put(machine, dev, counter, u32(machine, dev, counter) + 1, 4)


@function("void netif_carrier_on(struct net_device *dev)", "net/sched/sch_generic.c")
def netif_carrier_on(call, dev):
    _carrier(call, dev, True)


@function("void netif_carrier_off(struct net_device *dev)", "net/sched/sch_generic.c")
def netif_carrier_off(call, dev):
    _carrier(call, dev, False)


# ---------------------------------------------------------------- rtnl_link_ops
def _kind(machine, ops: int) -> bytes:
    return machine.space.read_cstring(machine.space.read_u64(ops + LINK["kind"]))


@function("int __rtnl_link_register(struct rtnl_link_ops *ops)", "net/core/rtnetlink.c")
def __rtnl_link_register(call, ops):
    machine = call.machine
    net = state(machine)
    if any(_kind(machine, o) == _kind(machine, ops) for o in net.link_ops):
        return -EEXIST
    space = machine.space
    # "The check for alloc/setup is here because if ops does not have that filled up, it
    # is not possible to use the ops for creating device." (rtnetlink.c)
    if (space.read_u64(ops + LINK["alloc"]) or space.read_u64(ops + LINK["setup"])) and \
            not space.read_u64(ops + LINK["dellink"]):
        space.write_u64(ops + LINK["dellink"], machine.address_of("unregister_netdevice_queue"))
    net.link_ops.append(ops)
    return 0


@function("int rtnl_link_register(struct rtnl_link_ops *ops)", "net/core/rtnetlink.c")
def rtnl_link_register(call, ops):
    """Sanity-check max sizes (not modelled: no netlink here), then under the RTNL."""
    rtnl_lock(call)
    try:
        return __rtnl_link_register(call, ops)
    finally:
        rtnl_unlock(call)


@function("void __rtnl_link_unregister(struct rtnl_link_ops *ops)", "net/core/rtnetlink.c")
def __rtnl_link_unregister(call, ops):
    """__rtnl_kill_links: ops->dellink for each device of this kind, then
    unregister_netdevice_many of what it queued."""
    _need_rtnl(call, "__rtnl_link_unregister")
    machine = call.machine
    net = state(machine)
    head = machine.kernel_alloc(16)  # LIST_HEAD(list_kill)
    dellink = machine.space.read_u64(ops + LINK["dellink"])
    for dev in list(net.devices.values()):
        if u64(machine, dev, "rtnl_link_ops") == ops:
            machine.call(dellink, dev, head)
    unregister_netdevice_many(call, head)
    if ops in net.link_ops:
        net.link_ops.remove(ops)


@function("void rtnl_link_unregister(struct rtnl_link_ops *ops)", "net/core/rtnetlink.c")
def rtnl_link_unregister(call, ops):
    """down_write(&pernet_ops_rwsem), rtnl_lock_unregistering_all, the unregister, unlock."""
    rtnl_lock(call)
    try:
        __rtnl_link_unregister(call, ops)
    finally:
        rtnl_unlock(call)


# ---------------------------------------------------------------- ethtool and stats
@function("int ethtool_op_get_ts_info(struct net_device *dev, struct ethtool_ts_info *info)",
          "net/ethtool/common.c")
def ethtool_op_get_ts_info(call, dev, info):
    # SOF_TIMESTAMPING_TX_SOFTWARE | RX_SOFTWARE | SOFTWARE; phc_index = -1
    call.machine.space.write(info + 4, (0x2 | 0x8 | 0x10).to_bytes(4, "little"))
    call.machine.space.write(info + 8, (0xFFFF_FFFF).to_bytes(4, "little"))
    return 0


@function("void dev_lstats_read(struct net_device *dev, u64 *packets, u64 *bytes)",
          "net/core/dev.c")
def dev_lstats_read(call, dev, packets, bytes_):
    """Sums each possible CPU's pcpu_lstats (one CPU here, see kcourse.kapi.percpu)."""
    from kcourse.kapi import percpu

    machine = call.machine
    stats = percpu.this_cpu(machine, u64(machine, dev, "lstats"))
    lst = {m[0]: m[1] for m in S.members("pcpu_lstats")}
    space = machine.space
    space.write_u64(packets, space.read_u64(stats + lst["packets"]))
    space.write_u64(bytes_, space.read_u64(stats + lst["bytes"]))
