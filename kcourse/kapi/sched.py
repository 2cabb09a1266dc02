"""The module's references, time and the current task (kernel/module/main.c, kernel/time/).

Time is the Kernel's logical clock: a delay advances it instead of spinning the host, so
dmesg timestamps move as on the real machine and a notebook prints the same every run.
"""

from __future__ import annotations

from kcourse.kapi.registry import data, function

HZ = 250  # CONFIG_HZ=250 in Debian's 6.1 config


def module_of(call, address: int):
    """The Module whose struct module (its .gnu.linkonce.this_module) sits at `address`."""
    for code in call.machine.codes:
        if code.this_module and code.this_module == address:
            return code.module
    return None


@function("int module_refcount(struct module *mod)", "kernel/module/main.c")
def module_refcount(call, mod):
    module = module_of(call, mod)
    return module.module_refcount() if module is not None else 0


@function("bool try_module_get(struct module *module)", "kernel/module/main.c")
def try_module_get(call, module):
    if module == 0:
        return 1  # a NULL module is the kernel itself: always there
    mod = module_of(call, module)
    return int(mod is not None and call.kernel.try_module_get(mod, why="try_module_get"))


@function("void module_put(struct module *module)", "kernel/module/main.c")
def module_put(call, module):
    mod = module_of(call, module)
    if mod is not None:
        call.kernel.module_put(mod, why="module_put")


@function("void __const_udelay(unsigned long xloops)", "arch/x86/lib/delay.c")
def __const_udelay(call, xloops):
    """udelay(n) is __const_udelay(n * 0x10c7): xloops = usecs * 2**32 / 10**6."""
    call.kernel.clock.advance(max(1, (xloops * 1_000_000) >> 32))


@function("void __udelay(unsigned long usecs)", "arch/x86/lib/delay.c")
def __udelay(call, usecs):
    call.kernel.clock.advance(max(1, usecs))


@function("void msleep(unsigned int msecs)", "kernel/time/timer.c")
def msleep(call, msecs):
    call.kernel.clock.advance(msecs * 1000)


@data("volatile unsigned long jiffies", "kernel/time/timer.c", 8)
def jiffies(machine, address):
    return machine.kernel.memory.jiffies().to_bytes(8, "little")
