"""Behaviors of Debian's own modules that the course loads (kcourse.lab.prepare's list).

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
    """A Debian module: init prints `init_lines`, exit `exit_lines` (KERN_INFO texts after
    the module's "name: " prefix, which all of these have: pr_fmt or a literal one)."""

    init_lines: tuple[str, ...] = ()
    exit_lines: tuple[str, ...] = ()
    source = ""  # where the init and exit functions are, file:line in linux-source-6.1

    def init(self, ctx) -> int:
        if self._ours(ctx):
            for line in self.on_init(ctx):
                ctx.pr_info(line)
        return 0

    def exit(self, ctx) -> None:
        if self._ours(ctx):
            for line in self.on_exit(ctx):
                ctx.pr_info(line)

    def on_init(self, ctx) -> tuple[str, ...]:
        return self.init_lines

    def on_exit(self, ctx) -> tuple[str, ...]:
        return self.exit_lines

    @staticmethod
    def _ours(ctx) -> bool:
        return ctx.module.image.get_modinfo("intree") is not None


@register("udp_tunnel")
class UdpTunnel(InTree):
    source = "net/ipv4/udp_tunnel_nic.c:936 udp_tunnel_nic_init_module: no printk"


@register("ip6_udp_tunnel")
class Ip6UdpTunnel(InTree):
    source = "net/ipv6/ip6_udp_tunnel.c (no module_init: nothing runs at load)"


@register("vxlan")
class Vxlan(InTree):
    source = "drivers/net/vxlan/vxlan_core.c:4848 vxlan_init_module: no printk"




@register("cdrom")
class Cdrom(InTree):
    # drivers/cdrom/cdrom.c:236 pr_fmt; cdrom_init (:3735) prints nothing, cdrom_exit (:3744)
    # pr_info("Uniform CD-ROM driver unloaded\n").
    exit_lines = ("Uniform CD-ROM driver unloaded",)
    source = "drivers/cdrom/cdrom.c:3742"


@register("isofs")
class Isofs(InTree):
    source = "fs/isofs/inode.c:1599 init_iso9660_fs, :1623 exit_iso9660_fs: no printk"
