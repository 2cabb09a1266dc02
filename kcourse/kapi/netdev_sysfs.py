"""/sys/class/net/<name>: the attributes of a registered net_device (net/core/net-sysfs.c
net_class_attrs, netdev_uevent), read from the struct net_device in emulated memory on each
read, so `cat mtu` shows what the module's code left there.

Each attribute formats as its _show does: NETDEVICE_SHOW's fmt_dec "%d\\n" and fmt_hex
"%#x\\n", sysfs_format_mac's "%*phC\\n", operstate's name (IF_OPER_DOWN while the device is
not running), -EINVAL where the show needs a running device (carrier, dormant, testing,
speed, duplex) or a name_assign_type, -EOPNOTSUPP where it needs an ndo the device lacks
(phys_port_id, phys_port_name, phys_switch_id). lo is the kernel's own (drivers/net/
loopback.c: registered at boot, never brought up on the lab's guest), with the values its
setup gives.

statistics/<counter> is netstat_show: dev_get_stats (net/core/dev.c:10633) on each read,
which runs the device's own ndo_get_stats64 (or ndo_get_stats) into a zeroed
rtnl_link_stats64, or copies dev->stats, then adds the per-CPU core_stats; the counter is
printed "%llu\n". lo's are 0 (loopback_get_stats64 over a device that never carried a
packet here).

power/ is a device's without runtime PM (drivers/base/power/sysfs.c); queues/ has rx-<n>
and tx-<n> (with byte_queue_limits/) for each real queue, as net-sysfs.c's defaults for a
device that never sent a packet, on one CPU. Writing mtu is dev_set_mtu
(kcourse.kapi.netdev.set_mtu). Not modelled (one line each): writes to the other writable
files (flags, tx_queue_len, power/control, ...), the traffic class and XPS maps of a device
with several transmit queues, and the subsystem link, which is not made. Real sysfs makes
/sys/class/net/<name> a symlink into /sys/devices/virtual/net/; here it is the directory.
"""

from __future__ import annotations

import stat

from kcourse.kapi import netdev as N
from kcourse.kapi.textfile import TextOps
from kcourse.kernel import structs as S
from kcourse.kernel.errno import KernelErrno
from kcourse.kernel.nodes import Node

EINVAL, EOPNOTSUPP = 22, 95
OPERSTATES = ("unknown", "notpresent", "down", "lowerlayerdown", "testing", "dormant", "up")
IF_OPER_DOWN = 2
LINK_STATE_DORMANT, LINK_STATE_TESTING = 4, 5
ARPHRD_LOOPBACK = 772
# net_class_attrs order does not matter: ls sorts. Writable ones are 0644 (DEVICE_ATTR_RW).
RW = {"carrier", "mtu", "flags", "tx_queue_len", "gro_flush_timeout", "napi_defer_hard_irqs",
      "ifalias", "netdev_group", "proto_down", "threaded"}
ATTRS = ("addr_assign_type", "addr_len", "address", "broadcast", "carrier", "carrier_changes",
         "carrier_down_count", "carrier_up_count", "dev_id", "dev_port", "dormant", "duplex",
         "flags", "gro_flush_timeout", "ifalias", "ifindex", "iflink", "link_mode", "mtu",
         "name_assign_type", "napi_defer_hard_irqs", "netdev_group", "operstate",
         "phys_port_id", "phys_port_name", "phys_switch_id", "proto_down", "speed", "testing",
         "threaded", "tx_queue_len", "type", "uevent")


class Loopback:
    """lo as loopback_setup (drivers/net/loopback.c) and alloc_netdev leave it: mtu 64 KiB,
    IFF_LOOPBACK, ARPHRD_LOOPBACK, tx_queue_len 0 made DEFAULT_TX_QUEUE_LEN, ifindex 1,
    address and broadcast all zero (6 bytes), not up."""

    values = {"mtu": 65536, "flags": N.IFF_LOOPBACK, "type": ARPHRD_LOOPBACK,
              "ifindex": N.LOOPBACK_IFINDEX, "tx_queue_len": N.DEFAULT_TX_QUEUE_LEN,
              "addr_len": N.ETH_ALEN, "addr_assign_type": 0, "name_assign_type": 0,
              "dev_id": 0, "dev_port": 0, "link_mode": 0, "group": 0, "operstate": 0,
              "carrier_up_count": 0, "carrier_down_count": 0, "gro_flush_timeout": 0,
              "napi_defer_hard_irqs": 0, "state": 1 << N.LINK_STATE_PRESENT,
              "real_num_rx_queues": 1, "real_num_tx_queues": 1}
    name = "lo"

    def get(self, field: str) -> int:
        return self.values[field]

    def addr(self) -> bytes:
        return bytes(N.ETH_ALEN)

    def broadcast(self) -> bytes:
        return bytes(N.ETH_ALEN)

    def has_op(self, _name: str) -> bool:
        return False

    def alive(self) -> bool:
        return True


class Device:
    """A registered net_device: each read goes to emulated memory."""

    SIZES = {"mtu": 4, "flags": 4, "type": 2, "ifindex": 4, "tx_queue_len": 4, "addr_len": 1,
             "addr_assign_type": 1, "name_assign_type": 1, "dev_id": 2, "dev_port": 2,
             "link_mode": 1, "group": 4, "operstate": 1, "carrier_up_count": 4,
             "carrier_down_count": 4, "gro_flush_timeout": 8, "napi_defer_hard_irqs": 4,
             "state": 8, "real_num_rx_queues": 4, "real_num_tx_queues": 4}

    def __init__(self, machine, dev: int):
        self.machine, self.dev = machine, dev

    @property
    def name(self) -> str:
        return N.name_of(self.machine, self.dev)

    def get(self, field: str) -> int:
        raw = self.machine.space.read(self.dev + N.ND[field], self.SIZES[field])
        return int.from_bytes(raw, "little")

    def addr(self) -> bytes:
        return N.dev_addr(self.machine, self.dev)

    def broadcast(self) -> bytes:
        length = self.get("addr_len")
        return self.machine.space.read(self.dev + N.ND["broadcast"], length)

    def has_op(self, name: str) -> bool:
        return bool(N._ops(self.machine, self.dev, name))

    def alive(self) -> bool:
        return N.u8(self.machine, self.dev, "reg_state") <= N.NETREG_REGISTERED


# net/core/net-sysfs.c netstat_attrs: the rtnl_link_stats64 counters sysfs shows
STATISTICS = ("rx_packets", "tx_packets", "rx_bytes", "tx_bytes", "rx_errors", "tx_errors",
              "rx_dropped", "tx_dropped", "multicast", "collisions", "rx_length_errors",
              "rx_over_errors", "rx_crc_errors", "rx_frame_errors", "rx_fifo_errors",
              "rx_missed_errors", "tx_aborted_errors", "tx_carrier_errors", "tx_fifo_errors",
              "tx_heartbeat_errors", "tx_window_errors", "rx_compressed", "tx_compressed",
              "rx_nohandler")
STATS64 = {m[0]: m[1] for m in S.members("rtnl_link_stats64")}
STATS64_SIZE, STATS_SIZE = S.sizeof("rtnl_link_stats64"), S.sizeof("net_device_stats")


def dev_get_stats(machine, dev: int) -> bytes:
    """dev_get_stats into kernel memory the device's method writes: the 200 bytes."""
    space = machine.space
    storage = machine.objects.get("stats64_storage")
    if storage is None:
        storage = machine.objects["stats64_storage"] = machine.kernel_alloc(STATS64_SIZE)
    space.write(storage, bytes(STATS64_SIZE))
    get64, get = N._ops(machine, dev, "ndo_get_stats64"), N._ops(machine, dev, "ndo_get_stats")
    if get64:
        machine.call(get64, dev, storage)
    else:
        source = machine.call(get, dev) if get else dev + N.ND["stats"]
        # netdev_stats_to_stats64: the unsigned longs, as many as both have, rest zero
        words = min(STATS_SIZE, STATS64_SIZE) // 8
        space.write(storage, space.read(source, 8 * words))
    if N.u64(machine, dev, "core_stats"):
        raise _limit_core()
    return space.read(storage, STATS64_SIZE)


def _limit_core():
    from kcourse.kapi.vfsfile import limit

    return limit("kcourse: this device has per-CPU core_stats (dev_core_stats_*_inc), which "
                 "the simulator does not add up")


def netstat(view, counter: str) -> str:
    """netstat_show: -EINVAL for a device no longer alive, else the counter."""
    if not view.alive():
        raise KernelErrno(EINVAL)
    if not isinstance(view, Device):
        return "0\n"
    raw = dev_get_stats(view.machine, view.dev)
    at = STATS64[counter]
    return f"{int.from_bytes(raw[at:at + 8], 'little')}\n"


def _bitfield(machine, dev: int, name: str) -> int:
    m = S.member("net_device", name)
    raw = int.from_bytes(machine.space.read(dev + m.offset, m.size), "little")
    return raw >> (m.bit_offset or 0) & ((1 << (m.bits or 8 * m.size)) - 1)


def _mac(data: bytes) -> str:
    return ":".join(f"{b:02x}" for b in data) + "\n"  # sysfs_format_mac: %*phC


def show(view, attr: str) -> str:
    """The text of /sys/class/net/<name>/<attr>, or KernelErrno as its _show returns."""
    running = bool(view.get("state") >> N.LINK_STATE_START & 1)

    def need_running(text_fn):
        if not running:
            raise KernelErrno(EINVAL)
        return text_fn()

    if not view.alive() and attr not in ("iflink", "carrier", "operstate", "uevent"):
        raise KernelErrno(EINVAL)  # netdev_show: dev_isalive
    state = view.get("state")
    if attr in ("addr_assign_type", "addr_len", "ifindex", "type", "link_mode", "dev_port",
                "mtu", "tx_queue_len", "napi_defer_hard_irqs", "carrier_up_count",
                "carrier_down_count"):
        return f"{view.get(attr)}\n"
    if attr in ("dev_id", "flags"):
        return f"{view.get(attr):#x}\n"  # vsprintf's %#x: "0x0" for 0 too (lib/vsprintf.c)
    if attr == "gro_flush_timeout":
        return f"{view.get(attr)}\n"
    if attr == "netdev_group":
        return f"{view.get('group')}\n"
    if attr == "iflink":  # dev_get_iflink: ndo_get_iflink, else the ifindex
        if view.has_op("ndo_get_iflink"):
            raise _limit("ndo_get_iflink")
        return f"{view.get('ifindex')}\n"
    if attr == "name_assign_type":
        if view.get(attr) == N.NET_NAME_UNKNOWN:
            raise KernelErrno(EINVAL)
        return f"{view.get(attr)}\n"
    if attr == "address":
        return _mac(view.addr())
    if attr == "broadcast":
        return _mac(view.broadcast())
    if attr == "carrier":
        return need_running(lambda: f"{int(not state >> N.LINK_STATE_NOCARRIER & 1)}\n")
    if attr == "dormant":
        return need_running(lambda: f"{state >> LINK_STATE_DORMANT & 1}\n")
    if attr == "testing":
        return need_running(lambda: f"{state >> LINK_STATE_TESTING & 1}\n")
    if attr in ("speed", "duplex"):  # needs get_link_ksettings and a running device
        raise KernelErrno(EINVAL)
    if attr == "operstate":
        operstate = view.get("operstate") if running else IF_OPER_DOWN
        if operstate >= len(OPERSTATES):
            raise KernelErrno(EINVAL)
        return OPERSTATES[operstate] + "\n"
    if attr == "carrier_changes":
        return f"{view.get('carrier_up_count') + view.get('carrier_down_count')}\n"
    if attr == "ifalias":
        return ""  # dev_get_alias: no alias set, nothing shown
    if attr in ("phys_port_id", "phys_port_name", "phys_switch_id"):
        op = {"phys_port_id": "ndo_get_phys_port_id",
              "phys_port_name": "ndo_get_phys_port_name",
              "phys_switch_id": "ndo_get_port_parent_id"}[attr]
        if view.has_op(op):
            raise _limit(op)
        raise KernelErrno(EOPNOTSUPP)
    if attr in ("proto_down", "threaded"):
        if isinstance(view, Device):
            return f"{_bitfield(view.machine, view.dev, attr)}\n"
        return "0\n"
    if attr == "uevent":  # netdev_uevent: INTERFACE, IFINDEX
        return f"INTERFACE={view.name}\nIFINDEX={view.get('ifindex')}\n"
    raise KernelErrno(EINVAL)


def loopback(rest: list[str]):
    """vfs lookup of /sys/class/net/lo[/...]: ("dir", lister) or ("file", ...), from the
    same table a module's device gets its nodes from."""
    from kcourse.kernel.kernel import DirEntry

    table = {path: entry for path, *entry in entries(Loopback())}
    here = "/".join(rest)
    if here and here not in table:
        raise KernelErrno(2)
    if here and table[here][0] != "dir":
        mode, reader, writer = table[here][1:]
        return ("file", stat.S_IFREG | mode, reader, writer)
    prefix = here + "/" if here else ""
    return ("dir", lambda: [
        DirEntry(path[len(prefix):], (stat.S_IFDIR if kind == "dir" else stat.S_IFREG) | mode,
                 kind, None, None if kind == "dir" else 4096)
        for path, (kind, mode, _r, _w) in table.items()
        if path.startswith(prefix) and "/" not in path[len(prefix):]])


def _limit(what: str):
    from kcourse.kapi.vfsfile import limit

    return limit(f"kcourse: reading this attribute calls the device's {what}, which the "
                 "simulator does not call")


def _writer(name: str, attr: str, view=None, call=None):
    def write(text):
        if attr == "uevent":
            return None  # kobject_synth_uevent: the event is not modelled, the write is taken
        if attr == "mtu" and isinstance(view, Device):
            return _store_mtu(call, view, text)
        from kcourse.kapi.vfsfile import limit

        raise limit(f"kcourse: writing /sys/class/net/{name}/{attr} is not modelled")
    return write


def _store_mtu(call, view, text: str) -> None:
    """netdev_store (root has CAP_NET_ADMIN): kstrtoul(buf, 0), then change_mtu under the
    RTNL: dev_set_mtu(dev, (int)new)."""
    from kcourse.kapi.abi import to_c
    from kcourse.kernel.params import kstrtoull

    try:
        new = kstrtoull(text)
    except ValueError as err:
        raise KernelErrno(err.args[0]) from None
    if new >= 1 << 64:
        raise KernelErrno(34)  # -ERANGE
    if not view.alive():
        raise KernelErrno(EINVAL)
    net = N.state(view.machine)
    if net.rtnl:  # rtnl_trylock failed: restart_syscall
        raise KernelErrno(EINVAL)
    net.rtnl = 1
    try:
        err = N.set_mtu(call, view.dev, to_c(new, 32, True))
    finally:
        N.rtnl_unlock(call)
    if err:
        raise KernelErrno(-err)


# drivers/base/power/sysfs.c for a device without runtime PM (a virtual net device):
# power_attrs and runtime_attrs; autosuspend_delay_ms is -EIO without use_autosuspend
POWER = (("async", 0o644, "disabled\n"), ("autosuspend_delay_ms", 0o644, None),
         ("control", 0o644, "auto\n"), ("runtime_active_kids", 0o444, "0\n"),
         ("runtime_active_time", 0o444, "0\n"), ("runtime_enabled", 0o444, "disabled\n"),
         ("runtime_status", 0o444, "unsupported\n"), ("runtime_suspended_time", 0o444, "0\n"),
         ("runtime_usage", 0o444, "0\n"))
# net/core/net-sysfs.c rx_queue_default_attrs (one CPU: rps_cpus is "0"), netdev_queue
# attrs and dql_attrs; hold_time is jiffies_to_msecs(HZ) (dql_init(dql, HZ) in
# netdev_queue_add_kobject), limit_max DQL_MAX_LIMIT (include/linux/dynamic_queue_limits.h)
RX_QUEUE = (("rps_cpus", 0o644, "0\n"), ("rps_flow_cnt", 0o644, "0\n"))
TX_QUEUE = (("traffic_class", 0o444, "enoent"), ("tx_maxrate", 0o644, "0\n"),
            ("tx_timeout", 0o444, "0\n"), ("xps_cpus", 0o644, "enoent"),
            ("xps_rxqs", 0o644, "0\n"))
BQL = (("hold_time", 0o644, "1000\n"), ("inflight", 0o444, "0\n"), ("limit", 0o644, "0\n"),
       ("limit_max", 0o644, "1879048192\n"), ("limit_min", 0o644, "0\n"))


def _fixed(text, multiqueue: bool = False):
    """A file whose text is the same for every device of this kind."""
    def read():
        if text is None:
            raise KernelErrno(5)  # -EIO
        if text == "enoent":
            if multiqueue:
                from kcourse.kapi.vfsfile import limit

                raise limit("kcourse: the traffic class and XPS map of a device with several "
                            "transmit queues are not modelled")
            raise KernelErrno(2)  # !netif_is_multiqueue(dev): -ENOENT
        return text
    return read


def _not_written(path: str):
    def write(_text):
        from kcourse.kapi.vfsfile import limit

        raise limit(f"kcourse: writing {path} is not modelled")
    return write


def entries(view, call=None) -> list[tuple[str, str, int, object, object]]:
    """(path below the device, "dir" or "file", mode, reader, writer) of every entry."""
    out = []
    for attr in ATTRS:
        mode = 0o644 if attr in RW or attr == "uevent" else 0o444
        writer = _writer(view.name, attr, view, call) if mode == 0o644 else None
        out.append((attr, "file", mode, (lambda a=attr: show(view, a)), writer))
    out.append(("statistics", "dir", 0o755, None, None))
    for counter in STATISTICS:
        out.append((f"statistics/{counter}", "file", 0o444,
                    (lambda c=counter: netstat(view, c)), None))
    out.append(("power", "dir", 0o755, None, None))
    for name, mode, text in POWER:
        out.append((f"power/{name}", "file", mode, _fixed(text),
                    _not_written(f"power/{name}") if mode & 0o200 else None))
    out.append(("queues", "dir", 0o755, None, None))
    rx, tx = view.get("real_num_rx_queues"), view.get("real_num_tx_queues")
    for i in range(rx):
        out.append((f"queues/rx-{i}", "dir", 0o755, None, None))
        out += [(f"queues/rx-{i}/{name}", "file", mode, _fixed(text),
                 _not_written(name)) for name, mode, text in RX_QUEUE]
    for i in range(tx):
        out.append((f"queues/tx-{i}", "dir", 0o755, None, None))
        out += [(f"queues/tx-{i}/{name}", "file", mode, _fixed(text, tx > 1),
                 _not_written(name) if mode & 0o200 else None) for name, mode, text in TX_QUEUE]
        out.append((f"queues/tx-{i}/byte_queue_limits", "dir", 0o755, None, None))
        out += [(f"queues/tx-{i}/byte_queue_limits/{name}", "file", mode, _fixed(text),
                 _not_written(name) if mode & 0o200 else None) for name, mode, text in BQL]
    return out


def attr_nodes(view, base: str, owner, call=None) -> list[Node]:
    out = []
    for path, kind, mode, reader, writer in entries(view, call):
        if kind == "dir":
            out.append(Node(f"{base}/{path}", stat.S_IFDIR | mode, owner=owner))
        else:
            out.append(Node(f"{base}/{path}", stat.S_IFREG | mode, owner=owner, size=4096,
                            ops=TextOps(reader, writer, kernfs=True)))
    return out


def add(call, dev: int) -> None:
    """netdev_register_kobject: /sys/class/net/<name> and its attributes."""
    name = N.name_of(call.machine, dev)
    base = f"{N_SYS}/{name}"
    nodes = call.kernel.nodes
    nodes.add(Node(base, stat.S_IFDIR | 0o755, owner=call.caller,
                   data={"kind": "net_device", "net_device": dev}))
    for node in attr_nodes(Device(call.machine, dev), base, call.caller, call):
        nodes.add(node)


def remove(call, dev: int) -> None:
    """netdev_unregister_kobject: the directory goes (device_del)."""
    for node in list(call.kernel.nodes.children(N_SYS)):
        if node.data.get("net_device") == dev:
            call.kernel.nodes.remove(node.path)


N_SYS = "/sys/class/net"
