"""Debian's 8021q runs its own code (kcourse.kapi.net_namespace, netdev, netdev_stops),
against Debian's real kernel.

Two recordings made on Debian's 6.1.0-56-amd64 under QEMU (kcourse.lab):
- tests/data/netdev/vlan/real.expected (script.sh there, `kcourse sim --real --transcript`):
  `modprobe 8021q` logs "8021q: 802.1Q VLAN Support v1.8" and pulls in garp, mrp, stp, llc;
  /proc/net/vlan/config is vlan_seq_show's header (dr-xr-xr-x vlan/, -rw------- config);
  a dummy0 registered while 8021q listens changes nothing there; rmmod takes /proc/net/vlan
  away; `modprobe -r 8021q` leaves stp and llc.
- tests/data/netdev/netnotify (`scripts/record-kapifs.py --dir tests/data/netdev
  netnotify`): a module's pernet subsystem (init with its zeroed data, /proc/net/netnotify/
  from proc_net_mkdir and proc_create_net, exit), a netdevice notifier that gets lo's
  NETDEV_REGISTER replayed, NETDEV_POST_INIT and NETDEV_REGISTER for a device registered
  under it, NETDEV_PRECHANGEMTU and NETDEV_CHANGEMTU (with the old mtu) for `echo 1400 > mtu`
  (none for the same mtu again), NETDEV_UNREGISTER when it goes, a second notifier that
  vetoes a replay (rolled back: NETDEV_UNREGISTER for lo, -EBUSY), and the unregister
  replay.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import need, recorded
from kcourse import behaviors
from kcourse.backend import format_transcript
from kcourse.build.cell import build_cell
from kcourse.kapi import net_namespace as NS
from kcourse.kapi import netdev as N
from kcourse.kapi import registry
from kcourse.lab.compare import normalise
from kcourse.shell.core import Shell

DATA = Path(__file__).parent / "data" / "netdev"


@pytest.fixture(scope="module")
def vlan_shell(tree_shell):
    return lambda: tree_shell(["8021q", "dummy"])


def test_8021q_matches_the_real_kernel(vlan_shell):
    real = recorded(DATA / "vlan" / "real.expected")
    for fact in ("8021q: 802.1Q VLAN Support v1.8", "Name-Type: VLAN_NAME_TYPE_RAW_PLUS_VID_NO_PAD",
                 "-rw------- 0 root root", "8021q 40960 0 - Live 0xADDR",
                 "ls: cannot access '/proc/net/vlan': No such file or directory"):
        assert fact in real
    sh = vlan_shell()
    sim = normalise(format_transcript(sh.run_script((DATA / "vlan" / "script.sh").read_text())))
    assert sim == real


def test_8021q_has_no_stand_in_and_runs_its_code(vlan_shell):
    """Its init ran in the CPU: the line comes from its own pr_info, its notifier_block is on
    netdev_chain, its pernet data holds vlan_init_net's name_type, and exit undoes all."""
    assert not hasattr(behaviors, "lookup")  # no stand-in table at all
    sh = vlan_shell()
    r = sh.run("modprobe 8021q")
    assert (r.rc, r.stderr, r.dmesg) == (0, "", ("8021q: 802.1Q VLAN Support v1.8",))
    machine = sh.kernel.emulator
    module = next(m for m in sh.kernel.modules if m.name == "8021q")
    assert module.code is not None and not sh.kernel.notes
    ns = NS.state(machine)
    [nb] = ns.chain
    assert machine.symbolize(machine.space.read_u64(nb)).startswith("vlan_device_event")
    [(ops, id_)] = ns.ids.items()
    data = ns.data[id_]
    # net/8021q/vlan.h struct vlan_net: proc_vlan_dir, proc_vlan_conf, unsigned short
    # name_type, which vlan_init_net sets to VLAN_NAME_TYPE_RAW_PLUS_VID_NO_PAD (3)
    space = machine.space
    assert int.from_bytes(space.read(data + 16, 2), "little") == 3
    pdes = {path: pde for pde, path in machine.objects["pde_paths"].items()}
    assert (space.read_u64(data), space.read_u64(data + 8)) == (
        pdes["/proc/net/vlan"], pdes["/proc/net/vlan/config"])
    assert ns.hooks["vlan_ioctl_hook"]
    assert sh.run("rmmod 8021q").rc == 0
    assert (ns.chain, ns.ids, ns.data, ns.hooks["vlan_ioctl_hook"]) == ([], {}, {}, 0)


@pytest.fixture(scope="module")
def netnotify(tmp_path_factory):
    built = build_cell("netnotify", (DATA / "netnotify" / "netnotify.c").read_text(),
                       base=tmp_path_factory.mktemp("netnotify"))
    need(built.ok, built.problem or built.output)
    return built.ko


def test_netnotify_matches_the_real_kernel(netnotify):
    real = recorded(DATA / "netnotify" / "real.expected")
    for fact in ("event 5 lo ifindex 1 flags 0x8 rtnl 1", "event 17 nn0 ifindex 2",
                 "veto sees 6 lo", "vetoing notifier -16", "never linked -2",
                 "0: lo\n1: nn0\ninits 1 lo lo", "event 23 nn0", "mtu 1400, was 1500",
                 "event 6 nn0", "pernet exit: inits 1"):
        assert fact in real
    shell = Shell(workdir=str(netnotify.parent))
    sim = normalise(format_transcript(shell.run_script(
        (DATA / "netnotify" / "script.sh").read_text())))
    assert sim == real


def test_dev_base_head_is_the_kernels_list(netnotify):
    """for_each_netdev in the module's own code walks init_net's dev_base_head: lo, then
    each registered device in order; unregistering takes a device off it."""
    shell = Shell(workdir=str(netnotify.parent))
    machine = shell.kernel.emulator
    assert [N.name_of(machine, d) for d in NS.devices(machine)] == ["lo"]
    assert shell.run("insmod netnotify.ko").rc == 0
    assert [N.name_of(machine, d) for d in NS.devices(machine)] == ["lo", "nn0"]
    assert shell.run("rmmod netnotify").rc == 0
    assert [N.name_of(machine, d) for d in NS.devices(machine)] == ["lo"]


def test_the_vlan_path_is_declared_and_stops():
    """Every kernel function 8021q imports is modelled or declared; the VLAN path's stop
    with one line naming the call site."""
    registry.load_all()
    fn = registry.FUNCTIONS["vlan_vid_add"]
    assert fn.impl.stops and fn.source == "net/8021q/vlan_core.c"
    call = type("Call", (), {"site": "vlan_dev_open+0x2a"})()
    with pytest.raises(Exception, match=r"vlan_dev_open\+0x2a calls vlan_vid_add\(\)"):
        fn.impl(call)


def test_a_device_without_netdev_ops_oopses_in_register_netdevice(tmp_path):
    """tests/data/netdev/nullops: register_netdevice reads dev->netdev_ops->ndo_init, a NULL
    pointer dereference; insmod is killed (137). The oops' header lines are the real ones;
    its RIP is the kapi function (register_netdev+0x0), not register_netdevice+0x103."""
    built = build_cell("nullops", (DATA / "nullops" / "nullops.c").read_text(), base=tmp_path)
    need(built.ok, built.problem or built.output)
    real = recorded(DATA / "nullops" / "real.expected").splitlines()
    header = [line for line in real if line.startswith(("[TIME] BUG:", "[TIME] #PF:",
                                                         "[TIME] Oops:"))]
    assert len(header) == 4 and "[rc=137]" in real
    shell = Shell(workdir=str(built.ko.parent))
    r = shell.run("insmod nullops.ko")
    assert r.rc == 137
    sim = normalise(shell.run("dmesg -c").stdout).splitlines()
    assert [line for line in sim if line in header] == header


HALFWAY = r"""
#include <linux/module.h>
#include <linux/netdevice.h>
#include <linux/skbuff.h>
#include <net/net_namespace.h>

static unsigned int hw_id;
static int hw_event(struct notifier_block *nb, unsigned long event, void *ptr)
{
	return NOTIFY_DONE;
}
static struct notifier_block hw_nb = { .notifier_call = hw_event };
static struct pernet_operations hw_ops = { .id = &hw_id, .size = 16 };

static int __init hw_init(void)
{
	int err = register_pernet_subsys(&hw_ops);

	if (err)
		return err;
	err = register_netdevice_notifier(&hw_nb);
	if (err)
		return err;
	return skb_clone(NULL, GFP_KERNEL) ? 0 : -ENOMEM;
}

static void __exit hw_exit(void)
{
	unregister_netdevice_notifier(&hw_nb);
	unregister_pernet_subsys(&hw_ops);
}

module_init(hw_init);
module_exit(hw_exit);
MODULE_LICENSE("GPL");
"""


def test_a_stopped_load_takes_its_notifier_and_pernet_subsys_away(tmp_path, netnotify):
    """The simulator stops the load at skb_clone (one line); the notifier and pernet
    subsystem its init registered go with the load's other state: a second insmod stops at
    the same place (not at "registered twice"), and a later device's events reach only the
    notifiers of loaded modules."""
    built = build_cell("halfway", HALFWAY, base=tmp_path)
    need(built.ok, built.problem or built.output)
    sh = Shell(workdir=str(built.ko.parent))
    for _ in range(2):
        r = sh.run("insmod halfway.ko")
        assert r.rc == 1 and "calls skb_clone()" in r.stderr, r.stderr
        ns = NS.state(sh.kernel.emulator)
        assert (ns.chain, ns.ids, ns.data, ns.owners) == ([], {}, {}, {})
    assert sh.run(f"insmod {netnotify}").rc == 0
    assert len(NS.state(sh.kernel.emulator).chain) == 1
    assert sh.run("rmmod netnotify").rc == 0


def test_a_stale_notifier_oopses_and_the_code_line_wraps(tmp_path):
    """A module removed without unregister_netdevice_notifier leaves its notifier_block on
    netdev_chain, as on the real kernel: the next device's registration calls into what is
    no longer its memory and oopses. show_opcodes (arch/x86/kernel/dumpstack.c) prints the
    prologue, an unsigned long ip - 42, with %lx: below 42 it wraps around."""
    from kcourse.machine.faults import code_line

    src = r"""
#include <linux/module.h>
#include <linux/netdevice.h>
static int st_event(struct notifier_block *nb, unsigned long event, void *ptr)
{
	return NOTIFY_DONE;
}
static struct notifier_block st_nb = { .notifier_call = st_event };
static int __init st_init(void) { return register_netdevice_notifier(&st_nb); }
static void __exit st_exit(void) { }
module_init(st_init);
module_exit(st_exit);
MODULE_LICENSE("GPL");
"""
    built = build_cell("stale", src, base=tmp_path)
    need(built.ok, built.problem or built.output)
    sh = Shell(workdir=str(built.ko.parent))
    assert sh.run("insmod stale.ko").rc == 0 and sh.run("rmmod stale").rc == 0
    assert len(NS.state(sh.kernel.emulator).chain) == 1
    assert code_line(sh.kernel.emulator, 1) == \
        "Code: Unable to access opcode bytes at 0xffffffffffffffd7."
