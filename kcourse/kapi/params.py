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

from kcourse.kapi.registry import data

KERNEL_PARAM = struct.Struct("<QQQHbBxxxxQ")
KPARAM_ARRAY = struct.Struct("<IIQQQ")  # max, elemsize, num, ops, elem
KPARAM_STRING = struct.Struct("<IxxxxQ")  # maxlen, string
KERNEL_PARAM_OPS_FL_NOARG = 1
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
            if param is None or not arg:
                continue
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
            if param is None or not arg or param.is_array or param.type not in SIZES:
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
