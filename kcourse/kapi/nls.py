"""Native language support tables (fs/nls/nls_base.c): __register_nls and unregister_nls.

The kernel keeps the registered tables in a list through each `struct nls_table`'s `next`
(include/linux/nls.h: charset 0, alias 8, uni2char 16, char2uni 24, charset2lower 32,
charset2upper 40, owner 48, next 56), whose head is nls_base's static `tables`, at boot
&default_table ("default": Debian builds every other table as a module, and the lab's guest
loads none). Registering a table whose `next` is set, or one already in the list, is -EBUSY;
names are not compared. Unregistering unlinks it (the predecessor's `next` is rewritten, in
its module's memory as in C) or is -EINVAL. The lookups (load_nls, load_nls_default) are
not modelled.
"""

from __future__ import annotations

from kcourse.kapi.registry import function

CHARSET, OWNER, NEXT, SIZE = 0, 48, 56, 64
EBUSY, EINVAL = 16, 22


def _head_slot(machine) -> int:
    """The address of nls_base's `tables` (kernel memory), made on first use with
    default_table behind it."""
    slot = machine.objects.get("nls_tables")
    if slot is None:
        default = machine.kernel_alloc(SIZE)
        machine.space.write_u64(default + CHARSET, machine.kernel_string(b"default\0"))
        slot = machine.objects["nls_tables"] = machine.kernel_alloc(8)
        machine.space.write_u64(slot, default)
    return slot


@function("int __register_nls(struct nls_table *nls, struct module *owner)",
          "fs/nls/nls_base.c")
def __register_nls(call, nls, owner):
    space = call.machine.space
    if space.read_u64(nls + NEXT):
        return -EBUSY
    space.write_u64(nls + OWNER, owner)
    slot = _head_slot(call.machine)
    tmp = slot
    while space.read_u64(tmp):
        if space.read_u64(tmp) == nls:
            return -EBUSY
        tmp = space.read_u64(tmp) + NEXT
    space.write_u64(nls + NEXT, space.read_u64(slot))
    space.write_u64(slot, nls)
    return 0


@function("int unregister_nls(struct nls_table *nls)", "fs/nls/nls_base.c")
def unregister_nls(call, nls):
    space = call.machine.space
    tmp = _head_slot(call.machine)
    while space.read_u64(tmp):
        if space.read_u64(tmp) == nls:
            space.write_u64(tmp, space.read_u64(nls + NEXT))
            return 0
        tmp = space.read_u64(tmp) + NEXT
    return -EINVAL
