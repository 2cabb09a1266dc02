"""Behaviors of the course modules in data/modules/ (hello, provider, consumer, ...).

Each printk text is copied from the module's C source (the pr_info format with its
arguments filled in); tests/test_behaviors.py checks every text against the C file.
"""

from __future__ import annotations

from kcourse.behaviors import register
from kcourse.behaviors.base import Behavior

ENODEV, ENOMEM, EFAULT = 19, 12, 14


@register("hello")
class Hello(Behavior):
    def init(self, ctx) -> int:
        ctx.pr_info(f"hello, {ctx.param('whom')} (count={ctx.param('count')})")
        return 0

    def exit(self, ctx) -> None:
        ctx.pr_info(f"goodbye, {ctx.param('whom')}")


@register("provider")
class Provider(Behavior):
    def init(self, ctx) -> int:
        ctx.pr_info("ready, exporting provider_add, provider_secret, provider_ns_hello")
        return 0

    def exit(self, ctx) -> None:
        ctx.pr_info("unloaded")

    @staticmethod
    def ns_hello(kernel, who: str) -> None:
        """provider_ns_hello(who), called by another module: printed with provider's prefix."""
        kernel.log.printk(f"\0016provider: hello, {who}, from namespace KCOURSE\n")


@register("consumer")
class Consumer(Behavior):
    def init(self, ctx) -> int:
        ctx.pr_info(f"provider_add(2, 3) = {2 + 3}")
        ctx.pr_info("provider_secret() = 42")
        Provider.ns_hello(ctx.kernel, "consumer")
        return 0

    def exit(self, ctx) -> None:
        ctx.pr_info("unloaded")
