"""The kernel API table: which exported symbols kcourse models, with their C prototypes.

Each modelled function is declared once, with the prototype the kernel's header gives it and
the kernel file whose behaviour it mirrors:

    @function("void *kmalloc_trace(struct kmem_cache *s, gfp_t flags, size_t size)",
              "mm/slab_common.c")
    def kmalloc_trace(call, s, flags, size): ...

The prototype is the parameter table (the form Qiling's Windows API hooks use): the System V
ABI decoder (kcourse.kapi.abi) reads the arguments from the registers and the stack and gives
each parameter as its C type says - an `int` sign-extended from 32 bits, a `size_t` unsigned,
a `const char *` as the bytes of the C string it points to (None for NULL), any other pointer
as its address. A `...` gives the
function `call.varargs(n)` to read. What the function returns goes to %rax.

Data that modules read by address (`jiffies`, `kmalloc_caches`, `param_ops_int`, ...) is
declared with @data: its size and a function that lays out its initial bytes once the machine
has given it an address. A symbol with neither is not modelled: a call to it, or a read of it,
stops the module with one line naming the symbol and the call site.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

_PARAM_NAME = re.compile(r"[A-Za-z_]\w*$")


@dataclass(frozen=True)
class Param:
    ctype: str  # as written: "const char *", "size_t", "int"
    name: str

    @property
    def is_string(self) -> bool:
        """A `const char *` is a C string the function reads; a plain `char *` is a buffer
        it writes, and a `__user` pointer is never read from the kernel side: both stay
        addresses."""
        return self.ctype.replace(" ", "") == "constchar*"

    @property
    def width_signed(self) -> tuple[int, bool]:
        """(bits, signed) of the value in its register."""
        t = " ".join(self.ctype.replace("const ", "").split())
        if "*" in t:
            return 64, False
        if t in ("int", "s32", "long int") or t == "signed int":
            return (32, True) if t != "long int" else (64, True)
        if t in ("long", "ssize_t", "loff_t", "s64", "long long", "time64_t"):
            return 64, True
        if t in ("unsigned int", "u32", "gfp_t", "fmode_t", "umode_t", "unsigned",
                 "uint32_t", "dev_t"):
            return (16, False) if t == "umode_t" else (32, False)
        if t in ("u8", "unsigned char", "bool", "char"):
            return 8, t == "char"
        if t in ("u16", "unsigned short", "short"):
            return 16, t == "short"
        return 64, False  # size_t, unsigned long, u64, pointers-by-typedef


@dataclass(frozen=True)
class Function:
    name: str
    prototype: str
    source: str  # the kernel file it mirrors
    params: tuple[Param, ...]
    variadic: bool
    returns: str
    impl: Callable


@dataclass(frozen=True)
class Data:
    name: str
    declaration: str
    source: str
    size: int
    init: Callable  # init(machine, address) -> bytes of `size`


FUNCTIONS: dict[str, Function] = {}
DATA: dict[str, Data] = {}


def parse_prototype(prototype: str) -> tuple[str, str, tuple[Param, ...], bool]:
    """'int _printk(const char *fmt, ...)' -> ('int', '_printk', (Param(...),), True)."""
    head, _, rest = prototype.partition("(")
    args = rest.rsplit(")", 1)[0].strip()
    m = re.match(r"(.*?)([A-Za-z_]\w*)\s*$", head.strip())
    if m is None:
        raise ValueError(f"bad prototype: {prototype}")
    returns, name = m.group(1).strip(), m.group(2)
    params: list[Param] = []
    variadic = False
    if args and args != "void":
        for part in _split_params(args):
            if part == "...":
                variadic = True
                continue
            fp = _FUNCTION_POINTER.match(part)  # int (*show)(struct seq_file *, void *)
            if fp is not None:
                params.append(Param(f"{fp.group(1)}(*){fp.group(3)}", fp.group(2)))
                continue
            pm = re.match(r"(.*?)([A-Za-z_]\w*)\s*(\[\])?$", part)
            if pm is None or not _PARAM_NAME.match(pm.group(2)):
                raise ValueError(f"bad parameter {part!r} in {prototype}")
            ctype = pm.group(1).strip() + (" *" if pm.group(3) else "")
            params.append(Param(ctype, pm.group(2)))
    return returns, name, tuple(params), variadic


_FUNCTION_POINTER = re.compile(r"(.*?)\(\s*\*\s*([A-Za-z_]\w*)\s*\)\s*(\(.*\))$")


def _split_params(args: str) -> list[str]:
    """The parameters of a prototype: split at the commas outside parentheses."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(args):
        depth += (ch == "(") - (ch == ")")
        if ch == "," and depth == 0:
            parts.append(args[start:i].strip())
            start = i + 1
    return [*parts, args[start:].strip()]


def function(prototype: str, source: str, *, name: str | None = None):
    """Declare a modelled kernel function (see the module docstring)."""

    def wrap(impl: Callable) -> Callable:
        returns, proto_name, params, variadic = parse_prototype(prototype)
        symbol = name or proto_name
        if symbol in FUNCTIONS:
            raise ValueError(f"{symbol} declared twice")
        FUNCTIONS[symbol] = Function(symbol, prototype, source, params, variadic, returns, impl)
        return impl

    return wrap


def data(declaration: str, source: str, size: int, *, name: str | None = None):
    """Declare a modelled kernel data symbol; the decorated function lays out its bytes."""

    def wrap(init: Callable) -> Callable:
        symbol = name or re.findall(r"[A-Za-z_]\w*", declaration.split("[")[0])[-1]
        if symbol in DATA:
            raise ValueError(f"{symbol} declared twice")
        DATA[symbol] = Data(symbol, declaration, source, size, init)
        return init

    return wrap


def load_all() -> None:
    """Import every subsystem file, which fills FUNCTIONS and DATA."""
    from kcourse.kapi import (  # noqa: F401
        block,
        block_bio,
        block_lib,
        block_loop,
        capability,
        cdev,
        chardev,
        checks,
        completion,
        console,
        cpuhp,
        debugfs,
        delay,
        dev_printk,
        devcore,
        device,
        devres,
        dma,
        dynamic_debug,
        filesystems,
        firmware,
        fs_stops,
        gpio,
        i2c,
        input,
        input_event,
        irq,
        jump_label,
        kallsyms,
        kmem_cache,
        kobject,
        kprobes,
        kthread,
        lib,
        locking,
        net_chains,
        net_namespace,
        netdev,
        netdev_stops,
        nls,
        page_stops,
        panic,
        params,
        paravirt,
        pci,
        percpu,
        platform,
        printk,
        procfs,
        procfs_files,
        random_bytes,
        ratelimit,
        rbtree,
        rcu,
        rwsem,
        scanf,
        sched,
        seq_file,
        seq_read,
        skbuff,
        slab,
        softirq,
        string,
        sysctl,
        sysfs,
        thunks,
        timekeeping,
        timers,
        uaccess,
        udp_tunnel_stops,
        vxlan_stops,
        wait,
        workqueue,
        zpool,
        zram_lib,
        zram_stops,
        zsmalloc_stops,
    )
