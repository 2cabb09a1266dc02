"""What a behavior sees while its module's code "runs": the kernel services a module calls.

A behavior (kcourse.behaviors: one a test hands the Kernel) models a module's init/exit/file
operations in Python; every other module runs its own machine code (kcourse.machine) and
calls kcourse.kapi instead. A behavior gets a
ModuleContext: printk with the kernel's levels (pr_* add the module's pr_fmt prefix
"<name>: "), the memory ledger (kmalloc & co, owner = the module), the module's parameters,
character devices it registers (their files appear under /dev; opening one takes a module
reference, as fops_get() -> try_module_get() does), and a per-module `data` dict standing for
the module's static variables.
"""

from __future__ import annotations

from kcourse.kernel.printk import KERN_CONT


class ModuleContext:
    def __init__(self, kernel, module):
        self.kernel = kernel
        self.module = module
        self.data: dict = {}

    @property
    def name(self) -> str:
        return self.module.name

    @property
    def pid(self) -> int:
        """current->pid: the process whose system call runs this code."""
        return self.kernel.current[0]

    @property
    def comm(self) -> str:
        """current->comm (insmod for init, rmmod for exit, the caller for file operations)."""
        return self.kernel.current[1]

    # ------------------------------------------------------------------ printk
    def printk(self, level: int | None, text: str) -> None:
        """printk(KERN_<level> text): a newline is added unless text is a continuation."""
        prefix = "" if level is None else f"\001{level}"
        if not text.endswith("\n"):
            text += "\n"
        self.kernel.log.printk(prefix + text)

    def printk_raw(self, message: str) -> None:
        """printk(message) exactly as given (no newline added: the line stays open)."""
        self.kernel.log.printk(message)

    def pr_cont(self, text: str) -> None:
        self.kernel.log.printk(KERN_CONT + text)

    def pr(self, level: int, text: str) -> None:
        """pr_<level>(fmt) with `#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt`.

        `text` is the formatted message without the format's final "\n", which is always
        added: a value that itself ends in a newline (a charp parameter written with
        `echo`, which keeps it: kernel/params.c param_set_charp) leaves one inside the
        record, since printk_sprint strips only the last (kernel/printk/printk.c:2126-2130)."""
        self.kernel.log.printk(f"\001{level}{self.name}: {text}\n")

    def pr_emerg(self, text: str) -> None:
        self.pr(0, text)

    def pr_alert(self, text: str) -> None:
        self.pr(1, text)

    def pr_crit(self, text: str) -> None:
        self.pr(2, text)

    def pr_err(self, text: str) -> None:
        self.pr(3, text)

    def pr_warn(self, text: str) -> None:
        self.pr(4, text)

    def pr_notice(self, text: str) -> None:
        self.pr(5, text)

    def pr_info(self, text: str) -> None:
        self.pr(6, text)

    def pr_debug(self, text: str) -> None:
        """pr_debug is compiled out unless DEBUG/dynamic debug enables it: prints nothing."""

    # ------------------------------------------------------------------ parameters
    def param(self, name: str):
        p = self.module.params[name]
        return p.values if p.is_array else p.value

    # ------------------------------------------------------------------ memory
    def site(self, function: str, offset: int = 0x1C, size: int = 0x40) -> str:
        return f"{function}+{offset:#x}/{size:#x} [{self.name}]"

    def kmalloc(self, size: int, gfp: str = "GFP_KERNEL", site: str = ""):
        a = self.kernel.memory.kmalloc(owner=self.name, size=size, gfp=gfp, site=site)
        self.kernel.event("alloc", self.name, size)
        return a

    def kzalloc(self, size: int, gfp: str = "GFP_KERNEL", site: str = ""):
        a = self.kernel.memory.kzalloc(owner=self.name, size=size, gfp=gfp, site=site)
        self.kernel.event("alloc", self.name, size)
        return a

    def vmalloc(self, size: int, site: str = ""):
        a = self.kernel.memory.vmalloc(owner=self.name, size=size, site=site)
        self.kernel.event("alloc", self.name, size)
        return a

    def get_free_pages(self, order: int, gfp: str = "GFP_KERNEL", site: str = ""):
        a = self.kernel.memory.get_free_pages(owner=self.name, order=order, gfp=gfp, site=site)
        self.kernel.event("alloc", self.name, 4096 << order)
        return a

    def kfree(self, what) -> None:
        self.kernel.memory.kfree(what)
        self.kernel.event("free", self.name, getattr(what, "requested", 0))

    def vfree(self, what) -> None:
        self.kernel.memory.vfree(what)
        self.kernel.event("free", self.name, getattr(what, "requested", 0))

    def free_pages(self, what, order: int | None = None) -> None:
        self.kernel.memory.free_pages(what, order)
        self.kernel.event("free", self.name, getattr(what, "requested", 0))

    # ------------------------------------------------------------------ devices
    def register_device(self, name: str, mode: int = 0o600) -> None:
        """misc_register / cdev_add + device_create: /dev/<name> owned by this module."""
        self.kernel.register_device(name, self.module, mode)

    def unregister_device(self, name: str) -> None:
        self.kernel.unregister_device(name)
