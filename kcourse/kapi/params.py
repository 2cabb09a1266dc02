"""Module parameters: the param_ops_* tables modules point at, and the values they read.

The kernel side of parameters (parsing insmod's arguments, /sys/module/<m>/parameters) is
kcourse.kernel.params, which follows kernel/params.c. What module code sees is the variable
that module_param() names: struct kernel_param (include/linux/moduleparam.h: name, mod, ops,
perm, level, flags, then arg / str / arr) points at it, and param_set_<type> stores the
parsed value there. write_values() does that store for every parameter after parse_args and
after a write to sysfs, in each type's C representation: integers in their width, bool as one
byte, charp as a pointer to a kernel copy of the string (param_set_charp kmallocs it),
string as the characters in the module's own buffer (param_set_copystring), arrays element by
element with *num set to the count (param_array_set).
"""

from __future__ import annotations

import struct

from kcourse.kapi.abi import to_c
from kcourse.kapi.registry import data, function
from kcourse.kernel import params as P
from kcourse.kernel.errno import KernelErrno

KERNEL_PARAM = struct.Struct("<QQQHbBxxxxQ")
KPARAM_ARRAY = struct.Struct("<IIQQQ")  # max, elemsize, num, ops, elem
KPARAM_STRING = struct.Struct("<IxxxxQ")  # maxlen, string
KERNEL_PARAM_OPS_FL_NOARG = 1
OFF_ARG = 32  # struct kernel_param: name, mod, ops, perm, level, flags, then arg
PAGE_SIZE = 4096
SIZES = {"byte": 1, "short": 2, "ushort": 2, "int": 4, "uint": 4, "long": 8, "ulong": 8,
         "ullong": 8, "hexint": 4, "bool": 1, "invbool": 1, "bint": 4, "charp": 8}
TYPES = ("byte", "short", "ushort", "int", "uint", "long", "ulong", "ullong", "hexint",
         "charp", "bool", "invbool", "bint", "bool_enable_only")


def _ops(kind: str):
    def init(machine, address):
        flags = KERNEL_PARAM_OPS_FL_NOARG if kind in ("bool", "bint", "bool_enable_only") \
            else 0
        return struct.pack("<IxxxxQQQ", flags, machine.address_of(f"param_set_{kind}"),
                           machine.address_of(f"param_get_{kind}"),
                           machine.address_of("param_free_charp") if kind == "charp" else 0)
    return init


for _kind in TYPES:
    data(f"const struct kernel_param_ops param_ops_{_kind}", "kernel/params.c", 32,
         name=f"param_ops_{_kind}")(_ops(_kind))
data("const struct kernel_param_ops param_array_ops", "kernel/params.c", 32,
     name="param_array_ops")(lambda machine, address: struct.pack(
         "<IxxxxQQQ", 0, machine.address_of("param_array_set"),
         machine.address_of("param_array_get"), machine.address_of("param_array_free")))
data("const struct kernel_param_ops param_ops_string", "kernel/params.c", 32,
     name="param_ops_string")(lambda machine, address: struct.pack(
         "<IxxxxQQQ", 0, machine.address_of("param_set_copystring"),
         machine.address_of("param_get_string"), 0))


def _encode(machine, ptype: str, value) -> bytes:
    if ptype == "charp":
        if value is None:
            return bytes(8)
        text = str(value).encode("utf-8", "surrogateescape") + b"\0"
        return machine.kernel_string(text).to_bytes(8, "little")
    size = SIZES[ptype]
    if ptype in ("bool", "invbool"):
        return bytes([1 if value else 0])
    return (int(value) & ((1 << 8 * size) - 1)).to_bytes(size, "little")


def write_values(machine, code) -> None:
    """Store every parameter's current value where the module's variable is."""
    space = machine.space
    mod = code.module
    for loaded in mod.sections:
        if loaded.name != "__param":
            continue
        for at in range(loaded.address, loaded.address + loaded.size, KERNEL_PARAM.size):
            name_ptr, _mod, _ops, _perm, _level, _flags, arg = KERNEL_PARAM.unpack(
                space.read(at, KERNEL_PARAM.size))
            name = space.read_cstring(name_ptr).decode("utf-8", "surrogateescape")
            param = mod.params.get(name)
            if param is None or not arg or param.custom_set is not None:
                continue  # a module_param_cb variable is the module's own to store
            if param.is_array:
                _max, elemsize, num, _aops, elem = KPARAM_ARRAY.unpack(
                    space.read(arg, KPARAM_ARRAY.size))
                for i, v in enumerate(param.values):
                    space.write(elem + i * elemsize, _encode(machine, param.elem_type, v))
                if num:
                    space.write(num, len(param.values).to_bytes(4, "little"))
            elif param.type == "string":
                maxlen, buf = KPARAM_STRING.unpack(space.read(arg, KPARAM_STRING.size))
                text = str(param.value or "").encode("utf-8", "surrogateescape")
                space.write(buf, text[:max(maxlen - 1, 0)] + b"\0")
            elif param.type in SIZES:
                space.write(arg, _encode(machine, param.type, param.value))


# ---------------------------------------------------------------- the kernel's param_set/get_*
def _kp_arg(call, kp: int) -> int:
    return call.machine.space.read_u64(kp + OFF_ARG)


def _setter(kind: str):
    def set_(call, val, kp):
        """param_set_<type> (kernel/params.c): parse with kstrto*, store into *kp->arg."""
        text = None if val is None else val.decode("utf-8", "surrogateescape")
        try:
            value = P.set_value(kind, text)
        except ValueError as err:
            return -err.args[0]
        call.machine.space.write(_kp_arg(call, kp), _encode(call.machine, kind, value))
        return 0
    return set_


def _getter(kind: str):
    def get(call, buffer, kp):
        """param_get_<type>: scnprintf(buffer, PAGE_SIZE, "<fmt>\\n", *kp->arg)."""
        size = SIZES.get(kind, 8)
        raw = call.machine.space.read(_kp_arg(call, kp), size)
        if kind == "charp":
            ptr = int.from_bytes(raw, "little")
            value = None if not ptr else call.machine.space.read_cstring(ptr).decode(
                "utf-8", "surrogateescape")
        elif kind in ("bool", "invbool"):
            value = bool(raw[0])
        else:
            value = int.from_bytes(raw, "little", signed=kind in ("short", "int", "long",
                                                                  "bint"))
        text = (P.format_value(kind, value) + "\n").encode("utf-8", "surrogateescape")
        call.machine.space.write(buffer, text[:PAGE_SIZE - 1] + b"\0")
        return min(len(text), PAGE_SIZE - 1)
    return get


for _kind in ("byte", "short", "ushort", "int", "uint", "long", "ulong", "ullong", "hexint",
              "charp", "bool", "invbool", "bint"):
    function(f"int param_set_{_kind}(const char *val, const struct kernel_param *kp)",
             "kernel/params.c")(_setter(_kind))
    function(f"int param_get_{_kind}(char *buffer, const struct kernel_param *kp)",
             "kernel/params.c")(_getter(_kind))


def bind_custom_ops(machine, code) -> None:
    """module_param_cb() with the module's own kernel_param_ops: Param.set and Param.show
    call its .set(val, kp) and .get(buffer, kp) (kernel/params.c parse_one, param_attr_show,
    param_attr_store), with the strings in kernel memory."""
    space = machine.space
    stock = {machine.address_of(f"param_ops_{k}") for k in TYPES} | {
        machine.address_of("param_array_ops"), machine.address_of("param_ops_string")}
    for loaded in code.module.sections:
        if loaded.name != "__param":
            continue
        for kp in range(loaded.address, loaded.address + loaded.size, KERNEL_PARAM.size):
            name_ptr, _mod, ops, *_rest = KERNEL_PARAM.unpack(space.read(kp, KERNEL_PARAM.size))
            param = code.module.params.get(space.read_cstring(name_ptr).decode(
                "utf-8", "surrogateescape"))
            if param is None or not ops or ops in stock:
                continue
            set_fn, get_fn = space.read_u64(ops + 8), space.read_u64(ops + 16)
            if set_fn:
                param.custom_set = _call_set(machine, set_fn, kp)
            if get_fn:
                param.custom_get = _call_get(machine, get_fn, kp)


def _call_set(machine, fn: int, kp: int):
    def set_(val: str | None) -> int:
        arg = 0 if val is None else machine.kernel_string(
            val.encode("utf-8", "surrogateescape") + b"\0")
        return to_c(machine.call(fn, arg, kp), 32, True)
    return set_


def _call_get(machine, fn: int, kp: int):
    def get() -> str:
        buffer = machine.kernel_alloc(PAGE_SIZE)
        n = to_c(machine.call(fn, buffer, kp), 32, True)
        if n < 0:
            raise KernelErrno(-n)
        return machine.space.read(buffer, min(n, PAGE_SIZE)).decode("utf-8", "surrogateescape")
    return get


SIGNED = {"short", "int", "long"}


def read_values(machine, code) -> None:
    """The other way: each scalar parameter's value from the module's variable, as
    param_get_<type> reads *kp->arg when /sys/module/<m>/parameters/<p> is read (the module
    may have changed it itself, or a debugfs file over the same variable did)."""
    space = machine.space
    mod = code.module
    for loaded in mod.sections:
        if loaded.name != "__param":
            continue
        for at in range(loaded.address, loaded.address + loaded.size, KERNEL_PARAM.size):
            name_ptr, _mod, _ops, _perm, _level, _flags, arg = KERNEL_PARAM.unpack(
                space.read(at, KERNEL_PARAM.size))
            param = mod.params.get(space.read_cstring(name_ptr).decode("utf-8",
                                                                        "surrogateescape"))
            if param is None or not arg or param.is_array or param.type not in SIZES or \
                    param.custom_get is not None:
                continue
            raw = space.read(arg, SIZES[param.type])
            if param.type in ("bool", "invbool"):
                param.value = bool(raw[0])
            elif param.type == "charp":
                pointer = int.from_bytes(raw, "little")
                param.value = None if not pointer else space.read_cstring(pointer).decode(
                    "utf-8", "surrogateescape")
            else:
                param.value = int.from_bytes(raw, "little", signed=param.type in SIGNED)
