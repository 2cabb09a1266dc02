"""Network devices (kcourse.kapi.netdev, netdev_sysfs, skbuff, rbtree) against Debian's real
kernel.

Two recordings made on Debian's 6.1.0-56-amd64 under QEMU (kcourse.lab):
- tests/data/netdev/netprobe (`scripts/record-kapifs.py --dir tests/data/netdev netprobe`):
  a module that allocates two devices with its own setup, sets one's mtu and the other's
  address, registers them ("np%d" -> np0, np1; ifindex 2, 3), tries a duplicate name
  (-EEXIST), a bad one (-EINVAL) and two %d (-EINVAL), toggles the carrier, adds and removes
  packet handlers (one never added: "dev_remove_pack: %p not found"), builds and erases a
  red-black tree, and prints what the kernel left in its net_devices; then /sys/class/net.
- tests/data/netdev/real.expected (script.sh there): lo's attributes, Debian's dummy with
  numdummies=2 and 1 (ifindex is never reused: the second dummy0 is 4), llc and stp.
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import need, recorded
from kcourse.backend import format_transcript
from kcourse.build.cell import build_cell
from kcourse.kapi import netdev as N
from kcourse.kapi import rbtree
from kcourse.kernel.kernel import Kernel, SimulatorLimit
from kcourse.lab.compare import normalise
from kcourse.shell.core import Shell

DATA = Path(__file__).parent / "data" / "netdev"
LKMPG = Path(__file__).parent.parent / "data" / "lkmpg"
# /sys/class/net/<name>/ entries the simulator does not make (kcourse.kapi.netdev_sysfs says
# so): the subsystem link.
NOT_MADE = {"subsystem"}


def blocks(transcript: str) -> list[tuple[str, list[str]]]:
    """A transcript as (command, its output lines) pairs."""
    out: list[tuple[str, list[str]]] = []
    for line in transcript.splitlines():
        if line.startswith("$ "):
            out.append((line[2:], []))
        else:
            out[-1][1].append(line)
    return out


@pytest.fixture(scope="module")
def netprobe(tmp_path_factory):
    built = build_cell("netprobe", (DATA / "netprobe" / "netprobe.c").read_text(),
                       base=tmp_path_factory.mktemp("netprobe"))
    need(built.ok, built.problem or built.output)
    return built.ko


def test_netprobe_matches_the_real_kernel(netprobe):
    shell = Shell(workdir=str(netprobe.parent))
    sim = normalise(format_transcript(shell.run_script(
        (DATA / "netprobe" / "script.sh").read_text())))
    real = recorded(DATA / "netprobe" / "real.expected")
    for fact in ("register 1: 0, name np1, ifindex 3", "a second np0: -17", "a/b: -22",
                 "x%d%d: -22", "dev_remove_pack: PTRHASH not found",
                 "rb 133 nodes, key sum 13291, first 1, last 196",
                 "features 0x4000 hw_features 0xa00020000004800", "unregistered 1: reg_state 3"):
        assert fact in real
    assert sim == real


def test_netprobe_mtu_write_reaches_the_net_device(netprobe):
    """`echo 1400 > mtu` is dev_set_mtu: 68 <= 1400 <= 1500 (ether_setup's min and max);
    out of that range is -EINVAL (dev_validate_mtu, net/core/dev.c)."""
    shell = Shell(workdir=str(netprobe.parent))
    assert shell.run("insmod netprobe.ko").rc == 0
    assert shell.run("echo 1400 > /sys/class/net/np0/mtu").rc == 0
    assert shell.run("cat /sys/class/net/np0/mtu").stdout == "1400\n"
    bad = shell.run("echo 60 > /sys/class/net/np0/mtu")
    assert bad.rc == 1 and "Invalid argument" in bad.stderr
    dev = N.by_name(shell.kernel.emulator, "np0")
    assert N.u32(shell.kernel.emulator, dev, "mtu") == 1400


@pytest.fixture(scope="module")
def net_shell(tree_shell):
    return lambda: tree_shell(["dummy", "llc", "stp"])


def test_lo_and_dummy_match_the_real_recording(net_shell):
    """Everything but what the simulator does not make (NOT_MADE), `readlink` (not a command
    of kcourse's shell) and dummy0's address: dummy_setup's eth_hw_addr_random draws it."""
    sh = net_shell()
    sim = blocks(normalise(format_transcript(sh.run_script((DATA / "script.sh").read_text()))))
    real = blocks(recorded(DATA / "real.expected"))
    assert [c for c, _ in sim] == [c for c, _ in real]
    compared = 0
    for (command, got), (_, want) in zip(sim, real, strict=True):
        if command.startswith("readlink "):
            continue
        if command == "cat /sys/class/net/dummy0/address":
            assert re.fullmatch(r"([0-9a-f]{2}:){5}[0-9a-f]{2}", got[0]) and got[1:] == want[1:]
            first = int(got[0][:2], 16)  # eth_random_addr: unicast, locally administered
            assert first & 1 == 0 and first & 2 == 2
            continue
        if command.startswith("ls /sys/class/net/"):
            want = [line for line in want if line not in NOT_MADE]
        assert got == want, command
        compared += 1
    assert compared >= 25


def test_dummy_numdummies_counts_and_ifindex_moves_on(net_shell):
    """dummy_init_module (drivers/net/dummy.c:180) makes numdummies devices under the RTNL;
    dev_new_index never gives a number again (the real kernel's dummy0 after a reload: 4)."""
    sh = net_shell()
    assert sh.run("modprobe dummy numdummies=3").rc == 0
    assert sh.run("ls /sys/class/net").stdout == "dummy0\ndummy1\ndummy2\nlo\n"
    assert sh.run("cat /sys/class/net/dummy2/ifindex").stdout == "4\n"
    assert sh.run("rmmod dummy").rc == 0
    assert sh.run("modprobe dummy").rc == 0
    assert sh.run("cat /sys/class/net/dummy0/ifindex").stdout == "5\n"
    assert sh.run("cat /sys/class/net/dummy0/flags").stdout == "0x82\n"  # NOARP, ~MULTICAST


def test_sysfs_reads_the_net_device_the_module_filled_in():
    """vnetloop's mtu is what ether_setup wrote into its net_device; change those bytes and
    the file says so (nothing is cached on the Python side)."""
    sh = Shell(workdir=str(LKMPG))
    assert sh.run("insmod vnetloop/vnetloop.ko").rc == 0
    machine = sh.kernel.emulator
    dev = N.by_name(machine, "vnetloop0")
    assert dev and sh.run("cat /sys/class/net/vnetloop0/mtu").stdout == "1500\n"
    N.put(machine, dev, "mtu", 1234, 4)
    assert sh.run("cat /sys/class/net/vnetloop0/mtu").stdout == "1234\n"
    # vnetloop_setup: flags |= IFF_NOARP over ether_setup's BROADCAST|MULTICAST
    assert sh.run("cat /sys/class/net/vnetloop0/flags").stdout == "0x1082\n"
    assert sh.run("cat /sys/class/net/vnetloop0/addr_assign_type").stdout == "1\n"
    assert sh.run("rmmod vnetloop").rc == 0
    assert sh.run("ls /sys/class/net").stdout == "lo\n"
    assert not N.state(machine).owners and not sh.kernel.memory.outstanding()


def test_a_packet_function_stops_with_one_line():
    k = Kernel()
    call = SimpleNamespace(machine=k.emulator, kernel=k, site="probe_xmit+0x10/0x40 [probe]")
    from kcourse.kapi.registry import FUNCTIONS

    with pytest.raises(SimulatorLimit) as err:
        FUNCTIONS["skb_clone"].impl(call, 0x1000, 0)
    assert str(err.value).startswith("kcourse: probe_xmit+0x10/0x40 [probe] calls skb_clone(): "
                                     "the simulator carries no network packets")
    assert "\n" not in str(err.value)


def _check_rb(space, root: int) -> list[int]:
    """Red-black rules (lib/rbtree.c's header comment): the root is black, a red node has
    black children, every path has as many black nodes; parents point back. Returns the
    nodes in order."""
    def walk(node: int, parent: int) -> tuple[int, list[int]]:
        if not node:
            return 1, []
        pc = space.read_u64(node + rbtree.PC)
        assert pc & ~3 == parent
        left, right = space.read_u64(node + rbtree.LEFT), space.read_u64(node + rbtree.RIGHT)
        if not pc & 1:
            for child in (left, right):
                assert not child or space.read_u64(child + rbtree.PC) & 1
        lh, lo = walk(left, node)
        rh, hi = walk(right, node)
        assert lh == rh
        return lh + (pc & 1), lo + [node] + hi
    top = space.read_u64(root)
    assert not top or space.read_u64(top + rbtree.PC) & 1
    return walk(top, 0)[1]


def test_rbtree_keeps_the_red_black_rules():
    """Random inserts (rb_link_node + rb_insert_color, as a module does) and erases: the
    rules hold after each step and rb_first/rb_next walk the keys in order."""
    k = Kernel()
    machine = k.emulator
    space = machine.space
    call = SimpleNamespace(machine=machine)
    root = machine.kernel_alloc(8)
    rng = random.Random(7)
    nodes = {}
    for step in range(400):
        if nodes and rng.random() < 0.35:
            key = rng.choice(sorted(nodes))
            rbtree.rb_erase(call, nodes.pop(key), root)
        else:
            key = rng.randrange(10_000)
            if key in nodes:
                continue
            node = machine.kernel_alloc(32)  # rb_node, then the key
            space.write_u64(node + 24, key)
            link, parent = root, 0
            while space.read_u64(link):
                parent = space.read_u64(link)
                side = rbtree.LEFT if key < space.read_u64(parent + 24) else rbtree.RIGHT
                link = parent + side
            space.write_u64(node + rbtree.PC, parent)  # rb_link_node: red, parent set
            space.write_u64(node + rbtree.LEFT, 0)
            space.write_u64(node + rbtree.RIGHT, 0)
            space.write_u64(link, node)
            rbtree.rb_insert_color(call, node, root)
            nodes[key] = node
        in_order = _check_rb(space, root)
        assert [space.read_u64(n + 24) for n in in_order] == sorted(nodes), step
    walked, n = [], rbtree.rb_first(call, root)
    while n:
        walked.append(space.read_u64(n + 24))
        n = rbtree.rb_next(call, n)
    assert walked == sorted(nodes) and len(walked) > 100


STOPPER = r"""
#include <linux/module.h>
#include <linux/netdevice.h>
#include <linux/etherdevice.h>
#include <linux/skbuff.h>

static struct net_device *dev;

static netdev_tx_t kc_xmit(struct sk_buff *skb, struct net_device *d)
{
	dev_kfree_skb(skb);
	return NETDEV_TX_OK;
}

/* register_netdevice reads netdev_ops->ndo_init: without ops it oopses */
static const struct net_device_ops kc_ops = { .ndo_start_xmit = kc_xmit };

static int __init stopper_init(void)
{
	dev = alloc_etherdev(0);
	if (!dev)
		return -ENOMEM;
	dev->netdev_ops = &kc_ops;
	strscpy(dev->name, "kc%d", IFNAMSIZ);
	if (register_netdev(dev))
		return -EIO;
	pr_info("stopper: %s\n", dev->name);
	return skb_clone(NULL, GFP_KERNEL) ? 0 : -ENOMEM;
}

static void __exit stopper_exit(void)
{
	unregister_netdev(dev);
	free_netdev(dev);
}

module_init(stopper_init);
module_exit(stopper_exit);
MODULE_LICENSE("GPL");
"""


def test_a_stopped_load_takes_its_devices_away(tmp_path):
    """The simulator stops the load at skb_clone (one line); the device it registered goes
    with the load's other state, so the next load gets kc0 again."""
    built = build_cell("stopper", STOPPER, base=tmp_path)
    need(built.ok, built.problem or built.output)
    sh = Shell(workdir=str(built.ko.parent))
    first = sh.run("insmod stopper.ko")
    assert first.rc == 1 and "calls skb_clone(): the simulator carries no network packets" \
        in first.stderr and len(first.stderr.splitlines()) == 1
    assert sh.run("ls /sys/class/net").stdout == "lo\n"
    assert not N.state(sh.kernel.emulator).devices
    sh.run("insmod stopper.ko")
    assert "stopper: kc0" in sh.run("dmesg").stdout.splitlines()[-1]


def test_unregistering_twice_stops_with_one_line():
    """unregister_netdevice_many_notify: BUG_ON(dev->reg_state != NETREG_REGISTERED)
    (net/core/dev.c:11015) for a device unregistered already."""
    k = Kernel()
    machine = k.emulator
    call = SimpleNamespace(machine=machine, kernel=k, site="twice_exit+0x9/0x20 [twice]",
                           caller=None)
    dev = machine.kernel_alloc(N.NET_DEVICE_SIZE)
    machine.space.write(dev + N.ND["name"], b"tw0\0")
    N.put(machine, dev, "reg_state", N.NETREG_UNREGISTERED, 1)
    with pytest.raises(SimulatorLimit, match=r"unregisters tw0 again \(reg_state 3\)"):
        N.unregister_netdev(call, dev)
    assert N.state(machine).rtnl == 0  # rtnl_unlock ran on the way out


def test_power_and_queues_match_the_real_recording(net_shell):
    """dummy0's power/ and queues/ (rx-0, tx-0, byte_queue_limits/): names, modes and
    texts as Debian's kernel shows them (tests/data/netdev/queues); ls -l's times masked."""
    sh = net_shell()
    stamp = re.compile(r"\w{3} [ \d]\d \d\d:\d\d ")
    sim = format_transcript(sh.run_script((DATA / "queues" / "script.sh").read_text()))
    real = recorded(DATA / "queues" / "real.expected")
    assert "limit_max: 1879048192" in real and "runtime_status: unsupported" in real
    assert stamp.sub("TIME ", normalise(sim)) == stamp.sub("TIME ", real)
