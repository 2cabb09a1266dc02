"""Behaviors of Debian's own modules that the course loads (tests/scenarios/lab_debian.sh).

What their init and exit functions print, from Debian's 6.1 source (linux-source-6.1,
6.1.192-2, the version of the kernel the simulator imitates); a module whose init prints
nothing is listed too, with the place that says so, so that "no line" is a checked fact and
not a missing behavior. Each applies only to the in-tree module (modinfo intree=Y): a course
module that happened to have the same name keeps the default behavior.

tests/test_behaviors_debian.py checks every printed text against the format strings and
values inside Debian's .ko files themselves.
"""

from __future__ import annotations

from kcourse.behaviors import register
from kcourse.behaviors.base import Behavior


class InTree(Behavior):
    """A Debian module: init prints `init_lines` (pr_info, with its pr_fmt prefix if any)."""

    init_lines: tuple[str, ...] = ()
    source = ""  # where the init and exit functions are, file:line in linux-source-6.1

    def init(self, ctx) -> int:
        if ctx.module.image.get_modinfo("intree") is None:
            return 0
        for line in self.init_lines:
            ctx.pr_info(line)
        return 0


@register("8021q")
class Vlan8021q(InTree):
    # net/8021q/vlan.c:17 `#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt`; vlan.c:712 in
    # vlan_proto_init: pr_info("%s v%s\n", vlan_fullname, vlan_version), with
    # vlan_fullname = "802.1Q VLAN Support" (vlan.c:45) and DRV_VERSION "1.8" (vlan.c:39).
    # vlan_cleanup_module (vlan.c:748) prints nothing.
    init_lines = ("802.1Q VLAN Support v1.8",)
    source = "net/8021q/vlan.c:708"


@register("garp")
class Garp(InTree):
    source = "net/802/garp.c (no module_init: nothing runs at load)"


@register("mrp")
class Mrp(InTree):
    source = "net/802/mrp.c (no module_init: nothing runs at load)"


@register("stp")
class Stp(InTree):
    source = "net/802/stp.c (no module_init: nothing runs at load)"


@register("llc")
class Llc(InTree):
    source = "net/llc/llc_core.c:138 llc_init: dev_add_pack only; llc_exit (:144) the same"


@register("udp_tunnel")
class UdpTunnel(InTree):
    source = "net/ipv4/udp_tunnel_nic.c:936 udp_tunnel_nic_init_module: no printk"


@register("ip6_udp_tunnel")
class Ip6UdpTunnel(InTree):
    source = "net/ipv6/ip6_udp_tunnel.c (no module_init: nothing runs at load)"


@register("vxlan")
class Vxlan(InTree):
    source = "drivers/net/vxlan/vxlan_core.c:4848 vxlan_init_module: no printk"


@register("dummy")
class Dummy(InTree):
    source = "drivers/net/dummy.c:180 dummy_init_module: registers dummy0, no printk"
