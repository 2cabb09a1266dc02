"""init_net and what hangs off it: pernet subsystems (net/core/net_namespace.c), netdevice
notifiers (net/core/dev.c), /proc/net (fs/proc/proc_net.c), lo as a struct net_device, and
the ioctl hooks a protocol module sets (net/socket.c).

init_net is a struct net of the kernel's in emulated memory (Debian's 6.1 layout): its
dev_base_head lists the registered devices in order (lo first, then each device
register_netdevice lists), its gen points to a struct net_generic whose ptr[id] holds each
pernet subsystem's data, and its proc_net is the proc_dir_entry of /proc/net. It is the only
namespace: no `ip netns` here, so for_each_net visits init_net alone.

register_pernet_subsys gives ops->id the next free id (ida_alloc_min(MIN_PERNET_OPS_ID): the
built-in subsystems' ids are not modelled, so the number differs from the real kernel's),
kzallocs ops->size bytes for init_net (owned by the calling module in the memory ledger),
and runs ops->init(&init_net); unregister_pernet_subsys runs pre_exit, exit and exit_batch
(with a list of one namespace, init_net linked by its exit_list), then frees the data.

register_netdevice_notifier links the notifier_block into netdev_chain by priority and
replays NETDEV_REGISTER (and NETDEV_UP for a device with IFF_UP) for every device of
init_net, rolling back on a veto; unregister_netdevice_notifier replays NETDEV_GOING_DOWN and
NETDEV_DOWN (for an up device) and NETDEV_UNREGISTER. call_netdevice_notifiers runs the chain
with a struct netdev_notifier_info; register_netdevice and unregister_netdevice send
NETDEV_POST_INIT, NETDEV_REGISTER and NETDEV_UNREGISTER through it, and dev_set_mtu
NETDEV_PRECHANGEMTU and NETDEV_CHANGEMTU (kcourse.kapi.netdev).

lo is drivers/net/loopback.c's device as gen_lo_setup leaves it, never brought up on the
lab's guest (flags IFF_LOOPBACK only): name, ifindex 1, mtu, type, flags, priv_flags,
reg_state and its place in dev_base_head are set; its feature bits, ops and statistics are
not (its /sys/class/net/lo files are kcourse.kapi.netdev_sysfs's).

/proc/net holds only what modules put there: the kernel's own entries (dev, route, ...) are
not modelled, and the directory appears when the simulator first needs init_net (the first
net module's load).

A load the simulator stopped takes its notifiers, pernet subsystems and hooks away with its
other state (Kernel.forget_objects); a module removed without unregistering them leaves them
in place, pointing into freed module memory, as on the real kernel.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass, field

from kcourse.kapi import netdev as N
from kcourse.kapi.abi import to_c
from kcourse.kapi.registry import function
from kcourse.kapi.vfsfile import limit
from kcourse.kernel import structs as S
from kcourse.kernel.nodes import Node

NET = {m[0]: m[1] for m in S.members("net")}
PERNET = {m[0]: m[1] for m in S.members("pernet_operations")}
NB = {m[0]: m[1] for m in S.members("notifier_block")}
# net/core/net_namespace.c: MIN_PERNET_OPS_ID, the first ptr[] slot after net_generic.s
MIN_PERNET_OPS_ID = (S.sizeof("net_generic") + 7) // 8
GEN_SLOTS = 256  # ptr[] slots of init_net's net_generic (net_alloc_generic grows it)
# include/linux/netdevice.h enum netdev_cmd
NETDEV_UP, NETDEV_DOWN, NETDEV_REGISTER, NETDEV_UNREGISTER = 1, 2, 5, 6
NETDEV_CHANGEMTU, NETDEV_GOING_DOWN, NETDEV_POST_INIT, NETDEV_PRECHANGEMTU = 7, 10, 17, 23
NOTIFY_STOP_MASK, NOTIFY_OK = 0x8000, 0x0001  # include/linux/notifier.h
ARPHRD_LOOPBACK, F_VLAN_CHALLENGED = 772, 1 << 10
ENOENT = 2


def notifier_to_errno(ret: int) -> int:
    """include/linux/notifier.h."""
    ret = to_c(ret, 32, True) & ~NOTIFY_STOP_MASK
    return NOTIFY_OK - ret if ret > NOTIFY_OK else 0


@dataclass
class NetNs:
    net: int = 0  # &init_net
    ids: dict[int, int] = field(default_factory=dict)  # pernet_operations * -> id
    data: dict[int, int] = field(default_factory=dict)  # id -> its kzalloc'd data
    chain: list[int] = field(default_factory=list)  # netdev_chain: notifier_block *
    hooks: dict[str, int] = field(default_factory=dict)  # vlan_ioctl_hook and friends
    lo: int = 0
    owners: dict[int, object] = field(default_factory=dict)  # nb, ops or hook -> Module


def _forget(machine, ns: NetNs, mod) -> None:
    """A load the simulator stopped: its notifiers, pernet subsystems and hooks go (the
    memory ledger keeps its allocations as it keeps a stopped load's other ones)."""
    mine = {x for x, owner in ns.owners.items() if owner is mod}
    ns.chain[:] = [nb for nb in ns.chain if nb not in mine]
    for ops in [ops for ops in ns.ids if ops in mine]:
        id_ = ns.ids.pop(ops)
        if ns.data.pop(id_, None) is not None:
            machine.space.write_u64(_gen_slot(machine, id_), 0)
    for name, hook in list(ns.hooks.items()):
        if hook in mine:
            ns.hooks[name] = 0
    for x in mine:
        del ns.owners[x]


def state(machine) -> NetNs:
    ns = machine.objects.get("net_namespace")
    if ns is None:
        ns = machine.objects["net_namespace"] = NetNs()
        _boot(machine, ns)
        machine.objects.setdefault("forget", []).append(lambda mod: _forget(machine, ns, mod))
    return ns


def init_net(machine) -> int:
    return state(machine).net


def _list_init(machine, at: int) -> None:
    machine.space.write_u64(at, at)
    machine.space.write_u64(at + 8, at)


def list_add_tail(machine, new: int, head: int) -> None:
    space = machine.space
    prev = space.read_u64(head + 8)
    space.write_u64(new, head)
    space.write_u64(new + 8, prev)
    space.write_u64(prev, new)
    space.write_u64(head + 8, new)


def list_del(machine, entry: int) -> None:
    """list_del_rcu: the neighbours skip it; its prev is poisoned (LIST_POISON2)."""
    space = machine.space
    nxt, prev = space.read_u64(entry), space.read_u64(entry + 8)
    space.write_u64(prev, nxt)
    space.write_u64(nxt + 8, prev)
    space.write_u64(entry + 8, 0xDEAD_0000_0000_0122)


def devices(machine) -> list[int]:
    """for_each_netdev(&init_net, dev): dev_base_head's order."""
    space, head = machine.space, init_net(machine) + NET["dev_base_head"]
    out, at = [], space.read_u64(head)
    while at != head and len(out) < 1 << 16:
        out.append(at - N.ND["dev_list"])
        at = space.read_u64(at)
    return out


def _boot(machine, ns: NetNs) -> None:
    """What setup_net and loopback_net_init leave in init_net at boot."""
    net = ns.net = machine.kernel_alloc(S.sizeof("net"))
    _list_init(machine, net + NET["dev_base_head"])
    gen = machine.kernel_alloc(8 * (MIN_PERNET_OPS_ID + GEN_SLOTS))
    machine.space.write(gen, (MIN_PERNET_OPS_ID + GEN_SLOTS).to_bytes(4, "little"))  # s.len
    machine.space.write_u64(net + NET["gen"], gen)
    machine.space.write(net + NET["ifindex"], N.LOOPBACK_IFINDEX.to_bytes(4, "little"))
    pde = machine.kernel_alloc(S.sizeof("proc_dir_entry"))
    machine.space.write_u64(net + NET["proc_net"], pde)
    from kcourse.kapi import procfs

    procfs._pdes(machine)[pde] = "/proc/net"
    node = machine.kernel.nodes.get("/proc/net")
    if node is None:
        machine.kernel.nodes.add(Node("/proc/net", stat.S_IFDIR | 0o555,
                                      data={"kind": "proc", "pde": pde, "nlink": 2,
                                            "openers": [], "removed": False}))
    lo = ns.lo = machine.kernel_alloc(N.NET_DEVICE_SIZE)  # gen_lo_setup's lo
    machine.space.write(lo + N.ND["name"], b"lo\0")
    for name, value, size in (("ifindex", N.LOOPBACK_IFINDEX, 4), ("mtu", 65536, 4),
                              ("type", ARPHRD_LOOPBACK, 2), ("flags", N.IFF_LOOPBACK, 4),
                              ("hard_header_len", N.ETH_HLEN, 2), ("addr_len", N.ETH_ALEN, 1),
                              ("priv_flags", N.IFF_XMIT_DST_RELEASE_PERM
                               | N.IFF_LIVE_ADDR_CHANGE | N.IFF_NO_QUEUE, 8),
                              ("features", F_VLAN_CHALLENGED, 8),
                              ("tx_queue_len", N.DEFAULT_TX_QUEUE_LEN, 4),
                              ("reg_state", N.NETREG_REGISTERED, 1),
                              ("state", 1 << N.LINK_STATE_PRESENT, 8), ("nd_net", net, 8)):
        N.put(machine, lo, name, value, size)
    list_add_tail(machine, lo + N.ND["dev_list"], net + NET["dev_base_head"])
    machine.space.write_u64(net + NET["loopback_dev"], lo)


# ---------------------------------------------------------------- pernet subsystems
def _gen_slot(machine, id_: int) -> int:
    return machine.space.read_u64(init_net(machine) + NET["gen"]) + 8 * id_


@function("int register_pernet_subsys(struct pernet_operations *ops)",
          "net/core/net_namespace.c")
def register_pernet_subsys(call, ops):
    machine = call.machine
    ns, space = state(machine), machine.space
    if ops in ns.ids:  # list_add_tail of ops->list twice: list debugging's report
        raise limit(f"kcourse: {call.site} registers pernet_operations {ops:#x} twice "
                    "(the list corruption report is not modelled)")
    id_ptr, size = space.read_u64(ops + PERNET["id"]), space.read_u64(ops + PERNET["size"])
    id_ = 0
    if id_ptr:  # ida_alloc_min(&net_generic_ids, MIN_PERNET_OPS_ID)
        used = set(ns.ids.values())
        id_ = next(i for i in range(MIN_PERNET_OPS_ID, MIN_PERNET_OPS_ID + GEN_SLOTS + 1)
                   if i not in used)
        if id_ >= MIN_PERNET_OPS_ID + GEN_SLOTS:
            raise limit(f"kcourse: {call.site}: more pernet subsystems than the simulator's "
                        f"{GEN_SLOTS} net_generic slots")
        space.write(id_ptr, id_.to_bytes(4, "little"))
    net = init_net(machine)
    if id_ and size:  # ops_init: kzalloc(ops->size), net_assign_generic
        owner = call.caller.name if call.caller else "kernel"
        from kcourse.kapi.slab import _allocated

        p = _allocated(call, call.kernel.memory.kmalloc(owner=owner, size=size,
                                                        gfp="GFP_KERNEL", site=call.site,
                                                        zero=True))
        if not p:
            return -12  # -ENOMEM
        ns.data[id_] = p
        space.write_u64(_gen_slot(machine, id_), p)
    ns.ids[ops] = id_
    ns.owners[ops] = call.caller
    init = space.read_u64(ops + PERNET["init"])
    err = to_c(machine.call(init, net), 32, True) if init else 0
    if err:
        _free_data(call, ns, ops)
    return err


def _free_data(call, ns: NetNs, ops: int) -> None:
    id_ = ns.ids.pop(ops)
    ns.owners.pop(ops, None)
    p = ns.data.pop(id_, None)
    if p is not None:
        call.machine.space.write_u64(_gen_slot(call.machine, id_), 0)
        from kcourse.kapi.slab import kfree

        kfree(call, p)


@function("void unregister_pernet_subsys(struct pernet_operations *ops)",
          "net/core/net_namespace.c")
def unregister_pernet_subsys(call, ops):
    """ops_pre_exit_list, synchronize_rcu, ops_exit_list, ops_free_list for init_net."""
    machine = call.machine
    ns, space = state(machine), machine.space
    if ops not in ns.ids:
        raise limit(f"kcourse: {call.site} unregisters pernet_operations {ops:#x}, which are "
                    "not registered (list_del of an unlinked entry is not modelled)")
    net = init_net(machine)
    for method in ("pre_exit", "exit"):
        fn = space.read_u64(ops + PERNET[method])
        if fn:
            machine.call(fn, net)
    batch = space.read_u64(ops + PERNET["exit_batch"])
    if batch:  # ops_exit_list: exit_batch(&net_exit_list), init_net linked by its exit_list
        head = machine.kernel_alloc(16)  # LIST_HEAD(net_exit_list) on the caller's stack
        _list_init(machine, head)
        list_add_tail(machine, net + NET["exit_list"], head)
        machine.call(batch, head)
        list_del(machine, net + NET["exit_list"])
    _free_data(call, ns, ops)


# ---------------------------------------------------------------- netdevice notifiers
def _notify_one(call, nb: int, event: int, dev: int, mtu: int | None = None) -> int:
    """call_netdevice_notifier: nb->notifier_call(nb, val, &info); with `mtu`, the info is
    call_netdevice_notifiers_mtu's struct netdev_notifier_info_ext (ext.mtu)."""
    machine = call.machine
    info = machine.kernel_alloc(S.sizeof("netdev_notifier_info_ext"))  # the caller's stack
    machine.space.write_u64(info, dev)
    if mtu is not None:
        machine.space.write(info + S.offsetof("netdev_notifier_info_ext", "ext.mtu"),
                            (mtu & 0xFFFF_FFFF).to_bytes(4, "little"))
    fn = machine.space.read_u64(nb + NB["notifier_call"])
    return to_c(machine.call(fn, nb, event, info), 32, True)


def call_notifiers(call, event: int, dev: int, mtu: int | None = None) -> int:
    """call_netdevice_notifiers_info: raw_notifier_call_chain over netdev_chain (init_net's
    own chain, per-netns notifiers, is empty: register_netdevice_notifier_net is not
    modelled). Returns the last notifier's NOTIFY_* value."""
    ret = 0
    for nb in list(state(call.machine).chain):
        ret = _notify_one(call, nb, event, dev, mtu)
        if ret & NOTIFY_STOP_MASK:
            break
    return ret


def _flags(machine, dev: int) -> int:
    return N.u32(machine, dev, "flags")


@function("int register_netdevice_notifier(struct notifier_block *nb)", "net/core/dev.c")
def register_netdevice_notifier(call, nb):
    machine = call.machine
    ns = state(machine)
    if nb in ns.chain:  # notifier_chain_register: WARN(1, "notifier callback %ps already
        raise limit(f"kcourse: {call.site} registers notifier_block {nb:#x} twice (the "
                    "kernel's WARN \"already registered\" is not modelled)")
    N.rtnl_lock(call)
    try:
        prio = to_c(int.from_bytes(machine.space.read(nb + NB["priority"], 4), "little"), 32,
                    True)
        at = 0
        while at < len(ns.chain) and _priority(machine, ns.chain[at]) >= prio:
            at += 1
        ns.chain.insert(at, nb)
        ns.owners[nb] = call.caller
        done = []
        for dev in devices(machine):  # call_netdevice_register_net_notifiers
            err = notifier_to_errno(_notify_one(call, nb, NETDEV_REGISTER, dev))
            if err:
                for back in reversed(done):
                    _replay_unregister(call, nb, back)
                ns.chain.remove(nb)
                ns.owners.pop(nb, None)
                return err
            if _flags(machine, dev) & N.IFF_UP:
                _notify_one(call, nb, NETDEV_UP, dev)
            done.append(dev)
        return 0
    finally:
        N.rtnl_unlock(call)


def _priority(machine, nb: int) -> int:
    return to_c(int.from_bytes(machine.space.read(nb + NB["priority"], 4), "little"), 32, True)


def _replay_unregister(call, nb: int, dev: int) -> None:
    """call_netdevice_unregister_notifiers."""
    if _flags(call.machine, dev) & N.IFF_UP:
        _notify_one(call, nb, NETDEV_GOING_DOWN, dev)
        _notify_one(call, nb, NETDEV_DOWN, dev)
    _notify_one(call, nb, NETDEV_UNREGISTER, dev)


@function("int unregister_netdevice_notifier(struct notifier_block *nb)", "net/core/dev.c")
def unregister_netdevice_notifier(call, nb):
    ns = state(call.machine)
    N.rtnl_lock(call)
    try:
        if nb not in ns.chain:
            return -ENOENT  # notifier_chain_unregister
        ns.chain.remove(nb)
        ns.owners.pop(nb, None)
        for dev in devices(call.machine):
            _replay_unregister(call, nb, dev)
        return 0
    finally:
        N.rtnl_unlock(call)


@function("int call_netdevice_notifiers(unsigned long val, struct net_device *dev)",
          "net/core/dev.c")
def call_netdevice_notifiers(call, val, dev):
    N._need_rtnl(call, "call_netdevice_notifiers")
    return call_notifiers(call, val, dev)


# ---------------------------------------------------------------- /proc/net
@function("struct proc_dir_entry *_proc_mkdir(const char *name, umode_t mode, "
          "struct proc_dir_entry *parent, void *data, bool force_lookup)", "fs/proc/generic.c")
def _proc_mkdir(call, name, mode, parent, data_, force_lookup):
    """proc_mkdir_data; force_lookup (pde_force_lookup: no dentry caching) changes nothing
    the simulator shows."""
    state(call.machine)  # /proc/net exists
    from kcourse.kapi import procfs

    return procfs._mkdir(call, name, mode, parent, data_)


@function("struct proc_dir_entry *proc_create_net_data(const char *name, umode_t mode, "
          "struct proc_dir_entry *parent, const struct seq_operations *ops, "
          "unsigned int state_size, void *data)", "fs/proc/proc_net.c")
def proc_create_net_data(call, name, mode, parent, ops, state_size, data_):
    """proc_create_reg with proc_net_seq_ops: seq_open_net gives the file a zeroed state
    whose first member (struct seq_net_private) points to init_net."""
    from kcourse.kapi import procfs
    from kcourse.kapi.procfs_files import kernel_proc_ops

    state(call.machine)
    proc_ops = kernel_proc_ops(call.machine, "proc_net_seq_ops", proc_open="seq_open_net",
                                proc_read_iter="seq_read_iter", proc_lseek="seq_lseek",
                                proc_release="seq_release_net")
    pde = procfs._create_reg(call, name, mode, parent, data_, proc_ops)
    if pde:
        procfs.node_of_pde(call, pde).data.update(seq_ops=ops, state_size=state_size)
    return pde


@function("int seq_open_net(struct inode *inode, struct file *file)", "fs/proc/proc_net.c")
def seq_open_net(call, inode, file):
    from kcourse.kapi import seq_file
    from kcourse.kapi.vfsfile import node_of_inode

    machine = call.machine
    node = node_of_inode(machine, inode)
    if node is None or "seq_ops" not in node.data:  # PDE(inode) of no proc_dir_entry
        raise limit(f"kcourse: {call.site} calls seq_open_net() on {inode:#x}, which is no "
                    "inode of a /proc/net file the simulator made")
    size = max(node.data["state_size"], S.sizeof("seq_net_private"))  # WARN_ON_ONCE below
    ret = seq_file.seq_open(call, file, node.data["seq_ops"])
    if ret == 0:  # __seq_open_private, then p->net = get_proc_net(inode)
        private = machine.kernel_alloc(size)
        machine.space.write_u64(private, init_net(machine))
        seq_file.seq_of(machine, file).set("private", private)
    return ret


@function("int seq_release_net(struct inode *inode, struct file *file)", "fs/proc/proc_net.c")
def seq_release_net(call, inode, file):
    from kcourse.kapi import seq_file

    seq_file.release(call.machine, file)
    return 0


# ---------------------------------------------------------------- ioctl hooks
@function("void vlan_ioctl_set(int (*hook)(struct net *, void __user *))", "net/socket.c")
def vlan_ioctl_set(call, hook):
    """Sets vlan_ioctl_hook under vlan_ioctl_mutex; only SIOCSIFVLAN on a socket calls it,
    and no socket exists here."""
    ns = state(call.machine)
    ns.hooks["vlan_ioctl_hook"] = hook
    if hook:
        ns.owners[hook] = call.caller


@function("void rcu_barrier(void)", "kernel/rcu/tree.c")
def rcu_barrier(call):
    """Waits for the callbacks call_rcu queued: none is ever pending here (call_rcu is not
    modelled, and kvfree_call_rcu frees at once: kcourse.kapi.skbuff)."""
