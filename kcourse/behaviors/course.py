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


@register("failinit")
class FailInit(Behavior):
    def init(self, ctx) -> int:
        ctx.pr_info("init runs, then returns -ENODEV")
        return -ENODEV

    def exit(self, ctx) -> None:
        ctx.pr_info("exit (never printed)")


@register("noexit")
class NoExit(Behavior):
    def init(self, ctx) -> int:
        ctx.pr_info("loaded; there is no exit function, so it cannot be unloaded")
        return 0


@register("proprietary")
class Proprietary(Behavior):
    def init(self, ctx) -> int:
        ctx.pr_info("loaded (licence 'Proprietary', uses only EXPORT_SYMBOL symbols)")
        return 0

    def exit(self, ctx) -> None:
        ctx.pr_info("unloaded")


class MiscDevice(Behavior):
    """A module with one misc device: misc_register in init, misc_deregister in exit."""

    device = ""
    registered = ""
    removed = ""

    def init(self, ctx) -> int:
        ctx.register_device(self.device)
        ctx.pr_info(self.registered)
        return 0

    def exit(self, ctx) -> None:
        ctx.unregister_device(self.device)
        ctx.pr_info(self.removed)


@register("kcdev")
class Kcdev(MiscDevice):
    device = "kcdev"
    registered = "/dev/kcdev registered"
    removed = "/dev/kcdev removed"
    message = "hello from kcdev\n"

    def open(self, ctx) -> int:
        # misc_open() took the module reference (fops_get) before calling us.
        ctx.pr_info(f"open, refcnt={ctx.module.module_refcount()}")
        return 0

    def release(self, ctx) -> None:
        ctx.pr_info("release")

    def read(self, ctx) -> str:
        return self.message


@register("leaker")
class Leaker(Behavior):
    def init(self, ctx) -> int:
        buf = ctx.kmalloc(4000, "GFP_KERNEL", ctx.site("leaker_init", 0x1C, 0x40))
        if buf is None:
            return -ENOMEM
        ctx.data["leaker_buf"] = buf
        ctx.pr_info("kmalloc(4000) done, pointer kept in a static variable")
        return 0

    def exit(self, ctx) -> None:
        # BUG (on purpose, as in leaker.c): kfree(leaker_buf) is missing.
        ctx.pr_info("exit without kfree(): 4000 bytes leaked")


@register("noleak")
class NoLeak(Behavior):
    def init(self, ctx) -> int:
        buf = ctx.kmalloc(4000, "GFP_KERNEL", ctx.site("noleak_init", 0x1C, 0x40))
        if buf is None:
            return -ENOMEM
        ctx.data["noleak_buf"] = buf
        ctx.pr_info("kmalloc(4000) done, pointer kept in a static variable")
        return 0

    def exit(self, ctx) -> None:
        ctx.kfree(ctx.data.pop("noleak_buf", None))
        ctx.pr_info("kfree() done, nothing leaked")


@register("stackhog")
class StackHog(Behavior):
    BYTES = 16000  # STACKHOG_BYTES

    def init(self, ctx) -> int:
        from kcourse.kernel import oops, stack

        size = ctx.kernel.config_thread_size
        ctx.pr_info(f"calling a function with a {self.BYTES}-byte local array "
                    f"(the stack is {size} bytes)")
        # Only init and what it calls: do_one_initcall's frame is part of DEPTH_AT_INIT.
        run = stack.run_kernel([("stackhog_init", 0x10),
                                ("stackhog_fill", stack.frame_size(self.BYTES))],
                               machine=ctx.kernel.machine(), pid=ctx.pid, comm=ctx.comm,
                               seed=ctx.kernel.seed)
        if not run.ok:
            raise oops.KernelOops(run.lines, panic=run.panicked)
        ctx.pr_info("survived, last byte 0x5a")
        return 0

    def exit(self, ctx) -> None:
        ctx.pr_info("unloaded")


class Counter(MiscDevice):
    """racy / locked: write() adds one to a shared counter, read() shows it.

    One writer at a time here: the simulated kernel runs system calls one after the other.
    Interleavings of concurrent writers are explored by kcourse.kernel.concurrency.
    """

    def init(self, ctx) -> int:
        ctx.data["counter"] = 0
        return super().init(ctx)

    def write(self, ctx, text: str) -> int:
        ctx.data["counter"] = ctx.data.get("counter", 0) + 1
        return len(text)

    def read(self, ctx) -> str:
        return f"{ctx.data.get('counter', 0)}\n"

    def exit(self, ctx) -> None:
        ctx.unregister_device(self.device)
        ctx.pr_info(f"unloaded, counter={ctx.data.get('counter', 0)}")


@register("racy")
class Racy(Counter):
    device = "racy"
    registered = "/dev/racy registered (counter updates without a lock)"


@register("locked")
class Locked(Counter):
    device = "locked"
    registered = "/dev/locked registered (counter updates under a mutex)"


@register("baduser")
class BadUser(MiscDevice):
    device = "baduser"
    registered = "/dev/baduser registered"
    removed = "/dev/baduser removed"
    # Where the writing process's buffer sits: bash's builtins (echo) write from its heap;
    # coreutils' cat from its 128 KiB read buffer, a page-aligned anonymous mapping below the
    # libraries (malloc mmaps above the 128 KiB threshold; xalignalloc aligns it to a page).
    # Both are ASLR-randomised on a real machine.
    HEAP_BUF, MMAP_BUF = 0x55D0C4A3B2A0, 0x7F3C1A2C3000
    # The faulting instruction, from `objdump -d data/modules/baduser/baduser.ko`: gcc 12 put
    # the len != 0 path of baduser_write (the read of buf[0] and the pr_info) in .text.unlikely
    # as baduser_write.cold, whose offset 0x1 is `0f b6 36  movzbl (%rsi),%esi` - buf is the
    # second argument, in %rsi. The RIP and Code: lines follow from the loaded module
    # (kcourse.kernel.faultsite).
    FAULT_SECTION, FAULT_OFFSET, FAULT_REGISTER = ".text.unlikely", 0x1, "RSI"

    def write(self, ctx, text: str) -> int:
        from kcourse.kernel import faultsite, uaccess

        data = text.encode("utf-8", "surrogateescape")
        if not data:
            return 0
        buf = self.HEAP_BUF if ctx.comm == "bash" else self.MMAP_BUF
        mem = uaccess.UserMemory()
        mem.map(buf, len(data), data)
        # first = buf[0]: a plain dereference of a user pointer; SMAP makes it fault.
        _ip, rip, code, cr2_now = faultsite.fault_site(ctx.module, self.FAULT_SECTION,
                                                      self.FAULT_OFFSET)
        raise uaccess.deref_oops(mem, buf, rip, machine=ctx.kernel.machine(), pid=ctx.pid,
                                 comm=ctx.comm, code=code, register=self.FAULT_REGISTER,
                                 cr2_now=cr2_now,
                                 frames=["vfs_write+0xc7/0x3f0", "ksys_write+0x6b/0xf0"],
                                 seed=ctx.kernel.seed)
