"""Debian's ip6_udp_tunnel, udp_tunnel and vxlan run their own code (kcourse.kapi.
udp_tunnel_stops and friends), against Debian's real kernel.

Recordings made on Debian's 6.1.0-56-amd64 under QEMU (kcourse.lab), each
`kcourse sim --real --transcript script.sh` in its folder:
- tests/data/vxlan/ip6_udp_tunnel/real.expected: modprobe (no log line: the module has no
  module_init), lsmod 20480 and Used by 0, /proc/modules, /sys/module/ip6_udp_tunnel (no
  parameters, no version), rmmod, and rmmod again ("is not currently loaded").
- tests/data/vxlan/udp_tunnel/real.expected: the same for udp_tunnel (lsmod 28672, no log
  line at load or unload, lo the only device), and a second modprobe that does nothing.
- tests/data/vxlan/vxlan/real.expected: `modprobe vxlan` loads udp_tunnel and
  ip6_udp_tunnel first (lsmod 106496, 20480, 28672; Used by "1 vxlan"; holders), no log
  line; vxlan's version (0.1) and parameters (udp_port 8472, log_ecn_error Y); lo the only
  device; rmmod of a dependency in use; `modprobe -r vxlan` takes all three away, `rmmod
  vxlan` only vxlan.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import recorded
from kcourse.backend import format_transcript
from kcourse.kapi import net_namespace as NS
from kcourse.kernel import structs as S
from kcourse.kernel.kernel import Kernel, SimulatorLimit
from kcourse.lab.compare import normalise
from kcourse.shell.core import Shell

DATA = Path(__file__).parent / "data" / "vxlan"


@pytest.fixture(scope="module")
def tree(tree_shell):
    return tree_shell


def transcript(sh: Shell, name: str) -> str:
    return normalise(format_transcript(sh.run_script((DATA / name / "script.sh").read_text())))


def test_ip6_udp_tunnel_matches_the_real_recording(tree):
    sh = tree(["ip6_udp_tunnel"])
    assert transcript(sh, "ip6_udp_tunnel") == recorded(DATA / "ip6_udp_tunnel" /
                                                       "real.expected")
    assert not sh.kernel.notes


def test_ip6_udp_tunnel_runs_its_own_code(tree):
    """No module_init, so nothing runs at load; its exports are there for vxlan."""
    sh = tree(["ip6_udp_tunnel"])
    assert sh.run("modprobe ip6_udp_tunnel").rc == 0
    (mod,) = sh.kernel.modules
    assert mod.code is not None and not sh.kernel.notes
    assert {e.name for e in mod.image.exports} == {
        "udp_sock_create6", "udp_tunnel6_xmit_skb", "udp_tunnel6_dst_lookup"}


def test_a_tunnel_socket_function_stops_with_one_line(tree):
    """udp_sock_create6 (ip6_udp_tunnel.c:17) starts with sock_create_kern: no sockets here."""
    sh = tree(["ip6_udp_tunnel"])
    assert sh.run("modprobe ip6_udp_tunnel").rc == 0
    (mod,) = sh.kernel.modules
    machine = sh.kernel.emulator
    scratch = machine.kernel_alloc(256)
    with pytest.raises(SimulatorLimit) as err:
        machine.call(mod.code.symbols["udp_sock_create6"], NS.init_net(machine), scratch,
                     scratch + 128)
    message = str(err.value)
    assert message.startswith("kcourse: udp_sock_create6+0x") and "\n" not in message
    assert " calls sock_create_kern(), which the simulator does not model (" \
        "no UDP tunnel socket can be made here: no netlink, no sockets)" in message


def test_a_tunnel_variable_stops_when_touched():
    """ipv6_stub is read only on the tunnel path: its address is an unmapped page that names
    it, as an undeclared variable's is (kcourse.machine.faults.report)."""
    machine = Kernel().emulator
    address = machine.kernel_symbol("ipv6_stub")
    assert machine.unmodelled_data_at(address) == "ipv6_stub"
    assert machine.unmodelled_data_at(machine.kernel_symbol("udp_tunnel_nic_ops")) is None


def test_udp_tunnel_matches_the_real_recording(tree):
    sh = tree(["udp_tunnel"])
    assert transcript(sh, "udp_tunnel") == recorded(DATA / "udp_tunnel" / "real.expected")
    assert not sh.kernel.notes


def _symbol(machine, address: int) -> str:
    return (machine.symbolize(address) or hex(address)).split("+")[0]


def test_udp_tunnel_init_and_exit_do_what_the_source_says(tree):
    """udp_tunnel_nic_init_module (net/ipv4/udp_tunnel_nic.c:936): an ordered workqueue
    "udp_tunnel_nic", udp_tunnel_nic_ops = &__udp_tunnel_nic_ops under the RTNL, and a
    netdevice notifier (lo's NETDEV_REGISTER replayed to it changes nothing: lo has no
    udp_tunnel_nic_info). udp_tunnel_nic_cleanup_module undoes the three."""
    from kcourse.machine import workers

    sh = tree(["udp_tunnel"])
    machine = sh.kernel.emulator
    before = set(workers.of(machine).by_address)
    assert sh.run("modprobe udp_tunnel").rc == 0
    (mod,) = sh.kernel.modules
    assert mod.code is not None and not sh.kernel.notes
    ops = machine.space.read_u64(machine.kernel_symbol("udp_tunnel_nic_ops"))
    assert _symbol(machine, ops) == "__udp_tunnel_nic_ops"
    (nb,) = NS.state(machine).chain
    call = machine.space.read_u64(nb + NS.NB["notifier_call"])
    assert _symbol(machine, call) == "udp_tunnel_nic_netdevice_event"
    (wq,) = [workers.of(machine).by_address[a] for a in set(workers.of(machine).by_address)
             - before]
    # alloc_ordered_workqueue: WQ_UNBOUND | __WQ_ORDERED | __WQ_ORDERED_EXPLICIT, max 1
    assert (wq.name, wq.flags, wq.max_active, wq.destroyed) == (
        "udp_tunnel_nic", 1 << 1 | 1 << 17 | 1 << 19, 1, False)
    assert sh.run("rmmod udp_tunnel").rc == 0
    assert machine.space.read_u64(machine.kernel_symbol("udp_tunnel_nic_ops")) == 0
    assert not NS.state(machine).chain and wq.destroyed
    assert not sh.kernel.memory.outstanding()


def test_vxlan_matches_the_real_recording(tree):
    """ls -l's times are the files' (the real guest's clock): masked on both sides."""
    sh = tree(["vxlan"])
    stamp = re.compile(r"[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d ")
    sim = stamp.sub("TIME ", transcript(sh, "vxlan"))
    assert sim == stamp.sub("TIME ", recorded(DATA / "vxlan" / "real.expected"))
    assert not sh.kernel.notes


def test_vxlan_init_registers_what_the_source_says_and_exit_takes_it_away(tree):
    """vxlan_init_module (drivers/net/vxlan/vxlan_core.c:4848): vxlan_net_ops (whose init,
    vxlan_init_net, registers the namespace's nexthop notifier from its vxlan_net), a
    netdevice notifier, a switchdev notifier, vxlan_link_ops (kind "vxlan") and the three
    vnifilter handlers (vxlan_vnifilter.c:1003: PF_BRIDGE RTM_GETTUNNEL with a dumpit,
    RTM_NEWTUNNEL and RTM_DELTUNNEL with a doit). vxlan_cleanup_module undoes each; the
    pernet exit is exit_batch (vxlan_exit_batch_net), which unregisters the nexthop
    notifier."""
    from kcourse.kapi import net_chains as C
    from kcourse.kapi import netdev as N

    sh = tree(["vxlan"])
    machine = sh.kernel.emulator
    assert sh.run("modprobe vxlan").rc == 0
    assert all(m.code is not None for m in sh.kernel.modules) and not sh.kernel.notes
    (mod,) = [m for m in sh.kernel.modules if m.name == "vxlan"]
    ns, chains = NS.state(machine), C.state(machine)
    (ops,) = [o for o in ns.ids if ns.owners[o] is mod]
    assert _symbol(machine, ops) == "vxlan_net_ops"
    vn = ns.data[ns.ids[ops]]
    (nh_nb,) = chains.nexthop
    assert vn <= nh_nb < vn + 4096
    assert _symbol(machine, machine.space.read_u64(nh_nb + NS.NB["notifier_call"])) == \
        "vxlan_nexthop_event"
    assert sorted(_symbol(machine, nb) for nb in ns.chain) == [
        "udp_tunnel_nic_notifier_block", "vxlan_notifier_block"]
    assert [_symbol(machine, nb) for nb in chains.switchdev] == [
        "vxlan_switchdev_notifier_block"]
    assert [N._kind(machine, o) for o in N.state(machine).link_ops] == [b"vxlan"]
    this = mod.code.symbols["__this_module"]
    got = {key: (owner, _symbol(machine, doit) if doit else None,
                 _symbol(machine, dump) if dump else None, flags)
           for key, (owner, doit, dump, flags) in chains.rtnl.items()}
    assert got == {(7, 122): (this, None, "vxlan_vnifilter_dump", 0),
                   (7, 120): (this, "vxlan_vnifilter_process", None, 0),
                   (7, 121): (this, "vxlan_vnifilter_process", None, 0)}
    assert sh.run("modprobe -r vxlan").rc == 0
    assert not ns.chain and not chains.switchdev and not chains.nexthop and not chains.rtnl
    assert not N.state(machine).link_ops and not ns.ids
    assert not sh.kernel.memory.outstanding()


def test_a_second_vxlan_kind_is_eexist(tree):
    """__rtnl_link_register (net/core/rtnetlink.c:440): rtnl_link_ops_get finds the kind."""
    from kcourse.kapi import netdev as N

    sh = tree(["vxlan"])
    assert sh.run("modprobe vxlan").rc == 0
    machine = sh.kernel.emulator
    ops = machine.kernel_alloc(S.sizeof("rtnl_link_ops"))
    kind = machine.kernel_alloc(8)
    machine.space.write(kind, b"vxlan\0")
    machine.space.write_u64(ops + N.LINK["kind"], kind)
    call = SimpleNamespace(machine=machine, kernel=sh.kernel, site="t+0x0/0x10 [t]",
                           caller=None)
    assert N.rtnl_link_register(call, ops) == -17
    assert len(N.state(machine).link_ops) == 1


def _handlers(machine, rows) -> int:
    from kcourse.kapi import net_chains as C

    at = machine.kernel_alloc(C.HANDLER_SIZE * len(rows))
    for i, (owner, protocol, msgtype, doit, dumpit) in enumerate(rows):
        base = at + i * C.HANDLER_SIZE
        machine.space.write_u64(base + C.H_OWNER, owner)
        machine.space.write(base + C.H_PROTOCOL, protocol.to_bytes(4, "little"))
        machine.space.write(base + C.H_MSGTYPE, msgtype.to_bytes(4, "little"))
        machine.space.write_u64(base + C.H_DOIT, doit)
        machine.space.write_u64(base + C.H_DUMPIT, dumpit)
    return at


def test_rtnl_handlers_register_merge_and_stop_where_the_kernel_warns():
    """rtnl_register_internal: the same owner and functions again merge; another owner, or
    a pair the kernel's own code holds (PF_UNSPEC RTM_NEWLINK: rtnetlink_init), stops."""
    from kcourse.kapi import net_chains as C

    k = Kernel()
    machine = k.emulator
    call = SimpleNamespace(machine=machine, kernel=k, site="t+0x0/0x10 [t]", caller=None)
    one = _handlers(machine, [(0x1000, 7, 120, 0x2000, 0)])
    assert C.__rtnl_register_many(call, one, 1) == 0
    assert C.__rtnl_register_many(call, one, 1) == 0
    assert C.state(machine).rtnl == {(7, 120): [0x1000, 0x2000, 0, 0]}
    other = _handlers(machine, [(0x3000, 7, 120, 0x4000, 0)])
    with pytest.raises(SimulatorLimit, match="second rtnetlink handler"):
        C.__rtnl_register_many(call, other, 1)
    with pytest.raises(SimulatorLimit, match="the kernel's own code handles"):
        C.__rtnl_register_many(call, _handlers(machine, [(0x1000, 0, 16, 0x2000, 0)]), 1)
    C.__rtnl_unregister_many(call, one, 1)
    assert C.state(machine).rtnl == {}


def test_a_notifier_block_twice_stops_and_an_absent_one_is_enoent():
    """notifier_chain_register's WARN "already registered"; notifier_chain_unregister's
    -ENOENT (kernel/notifier.c)."""
    from kcourse.kapi import net_chains as C

    k = Kernel()
    machine = k.emulator
    call = SimpleNamespace(machine=machine, kernel=k, site="t+0x0/0x10 [t]", caller=None)
    nb = machine.kernel_alloc(S.sizeof("notifier_block"))
    assert C.register_switchdev_notifier(call, nb) == 0
    with pytest.raises(SimulatorLimit, match="twice"):
        C.register_switchdev_notifier(call, nb)
    assert C.unregister_switchdev_notifier(call, nb) == 0
    assert C.unregister_switchdev_notifier(call, nb) == -2
    net = NS.init_net(machine)
    assert C.unregister_nexthop_notifier(call, net, nb) == -2
    assert C.register_nexthop_notifier(call, net, nb, 0) == 0
    assert C.state(machine).nexthop == [nb]


def test_a_vxlan_device_function_stops_with_one_line():
    from kcourse.kapi.registry import FUNCTIONS

    k = Kernel()
    call = SimpleNamespace(machine=k.emulator, kernel=k,
                           site="vxlan_newlink+0x10/0x80 [vxlan]")
    with pytest.raises(SimulatorLimit) as err:
        FUNCTIONS["rtnl_create_link"].impl(call, 0, 0, 0, 0, 0, 0)
    assert str(err.value) == ("kcourse: vxlan_newlink+0x10/0x80 [vxlan] calls "
                              "rtnl_create_link(), which the simulator does not model (no "
                              "VXLAN device can be made here: no netlink, no sockets); run "
                              "it on the real kernel with `kcourse sim --real`")


def test_rtnl_register_module_and_unregister():
    """rtnl_register_module is rtnl_register_internal with the owner given; rtnl_unregister
    is -ENOENT for a protocol without a table (PF_MPLS, 28: af_mpls is a module, not loaded)
    and 0 for one with a table even if the entry is empty; rtnl_unregister_all drops the
    table, so the next rtnl_unregister there is -ENOENT again."""
    from kcourse.kapi import net_chains as C

    k = Kernel()
    machine = k.emulator
    call = SimpleNamespace(machine=machine, kernel=k, site="t+0x0/0x10 [t]", caller=None)
    assert C.rtnl_unregister(call, 28, 24) == -2
    assert C.rtnl_register_module(call, 0x1000, 28, 24, 0x2000, 0x3000, 0) == 0
    assert C.state(machine).rtnl == {(28, 24): [0x1000, 0x2000, 0x3000, 0]}
    assert C.rtnl_unregister(call, 28, 25) == 0
    assert C.rtnl_unregister(call, 28, 24) == 0 and C.state(machine).rtnl == {}
    assert C.rtnl_register_module(call, 0x1000, 28, 24, 0x2000, 0, 0) == 0
    C.rtnl_unregister_all(call, 28)
    assert C.state(machine).rtnl == {} and C.rtnl_unregister(call, 28, 24) == -2
    with pytest.raises(SimulatorLimit, match="BUG"):
        C.rtnl_register_module(call, 0x1000, 130, 24, 0x2000, 0, 0)
    with pytest.raises(SimulatorLimit, match="the kernel's own among them"):
        C.rtnl_unregister_all(call, 0)


def _setup_udp_tunnel_sock(tree, family: int):
    """setup_udp_tunnel_sock (udp_tunnel_core.c) on a socket laid out by hand (sock->sk at
    0x18 and sk_family at 0x10, as its machine code reads them): its own code runs up to
    udp_tunnel_encap_enable."""
    sh = tree(["udp_tunnel"])
    assert sh.run("modprobe udp_tunnel").rc == 0
    (mod,) = sh.kernel.modules
    machine = sh.kernel.emulator
    sk, sock, cfg = (machine.kernel_alloc(size) for size in (4096, 64, 128))
    machine.space.write_u64(sock + 0x18, sk)
    machine.space.write(sk + 0x10, family.to_bytes(2, "little"))
    return machine, lambda: machine.call(mod.code.symbols["setup_udp_tunnel_sock"],
                                         NS.init_net(machine), sock, cfg)


def test_udp_tunnel_code_stops_at_ipv6_stub(tree):
    """For an AF_INET6 socket udp_tunnel_encap_enable calls ipv6_stub->udpv6_encap_enable:
    the read of ipv6_stub ("stops when touched") faults on its unmapped page, which the
    fault handler turns into one line naming it (kcourse.machine.faults.report)."""
    from kcourse.machine import faults
    from kcourse.machine.machine import ModuleFault

    machine, run = _setup_udp_tunnel_sock(tree, 10)
    with pytest.raises(ModuleFault) as fault:
        run()
    with pytest.raises(SimulatorLimit) as err:
        faults.report(machine, fault.value, 1, "insmod")
    assert str(err.value).startswith("kcourse: setup_udp_tunnel_sock+0x91/")
    assert "uses the kernel variable ipv6_stub, which the simulator does not model" in \
        str(err.value)


def test_udp_tunnel_code_stops_at_udp_encap_enable(tree):
    """For an AF_INET socket it tail-calls udp_encap_enable (a jmp: the call site is the
    caller's return address), which stops when called."""
    machine, run = _setup_udp_tunnel_sock(tree, 2)
    with pytest.raises(SimulatorLimit) as err:
        run()
    assert " calls udp_encap_enable(), which the simulator does not model (no UDP tunnel " \
        "socket can be made here" in str(err.value)
