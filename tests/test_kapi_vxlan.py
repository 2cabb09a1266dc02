"""Debian's ip6_udp_tunnel, udp_tunnel and vxlan run their own code (kcourse.kapi.
udp_tunnel_stops and friends), against Debian's real kernel.

Recordings made on Debian's 6.1.0-56-amd64 under QEMU (kcourse.lab), each
`kcourse sim --real --transcript script.sh` in its folder:
- tests/data/vxlan/ip6_udp_tunnel/real.expected: modprobe (no log line: the module has no
  module_init), lsmod 20480 and Used by 0, /proc/modules, /sys/module/ip6_udp_tunnel (no
  parameters, no version), rmmod, and rmmod again ("is not currently loaded").
- tests/data/vxlan/udp_tunnel/real.expected: the same for udp_tunnel (lsmod 28672, no log
  line at load or unload, lo the only device), and a second modprobe that does nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import need
from kcourse.backend import format_transcript
from kcourse.kapi import net_namespace as NS
from kcourse.kernel.kernel import Kernel, SimulatorLimit
from kcourse.lab.compare import normalise
from kcourse.shell.core import Shell
from kcourse.shell.moddir import DebianTreeMissing

DATA = Path(__file__).parent / "data" / "vxlan"


def recorded(path: Path) -> str:
    return "".join(line for line in path.read_text().splitlines(True)
                   if not line.startswith("#|"))


@pytest.fixture(scope="module")
def tree(request):
    request.getfixturevalue("debian_modules_dir")

    def make(names):
        try:
            return Shell(debian_tree=names)
        except DebianTreeMissing as err:
            need(False, str(err))
    return make


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
