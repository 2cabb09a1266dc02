"""copy_to_user and friends: the only way module code reaches user memory.

User pages are never mapped in the kernel's page tables here (kcourse.machine.address_space),
which is what SMAP makes of a plain dereference: a fault on the module's own instruction.
These functions copy between the emulated kernel memory and the calling process's memory
(kcourse.kernel.uaccess.UserMemory) with the real return conventions: the number of bytes
NOT copied (arch/x86/include/asm/uaccess.h, lib/usercopy.c), 0 or -EFAULT for get/put_user.
"""

from __future__ import annotations

from kcourse.kapi.registry import function
from kcourse.kernel import uaccess as U

EFAULT = 14


def user_memory(call) -> U.UserMemory:
    """The memory of the process whose system call is running."""
    return call.machine.objects.setdefault("user", U.UserMemory())


@function("unsigned long _copy_to_user(void *to, const void *from, unsigned long n)",
          "lib/usercopy.c")
def _copy_to_user(call, to, frm, n):
    return U.copy_to_user(user_memory(call), to, call.machine.space.read(frm, n))


@function("unsigned long _copy_from_user(void *to, const void *from, unsigned long n)",
          "lib/usercopy.c")
def _copy_from_user(call, to, frm, n):
    data, left = U.copy_from_user(user_memory(call), frm, n)
    call.machine.space.write(to, data)  # a partial copy is zero-filled (usercopy.c:26)
    return left


def _put_user(size):
    def put(call):
        # arch/x86/lib/putuser.S: value in %rax (%eax...), address in %rcx; %ecx = 0 or -EFAULT
        value, address = call.machine.reg("rax"), call.machine.reg("rcx")
        err = U.put_user(user_memory(call), value, address, size)
        call.machine.cpu.set_reg("rcx", err & 0xFFFFFFFF)
        return None
    return put


def _get_user(size):
    def get(call):
        # arch/x86/lib/getuser.S: address in %rax; value in %rdx, 0 or -EFAULT in %rax
        value, err = U.get_user(user_memory(call), call.machine.reg("rax"), size)
        call.machine.cpu.set_reg("rdx", value)
        return err & 0xFFFF_FFFF_FFFF_FFFF
    return get


for _size in (1, 2, 4, 8):
    function(f"void __put_user_{_size}(void)", "arch/x86/lib/putuser.S")(_put_user(_size))
    function(f"void __get_user_{_size}(void)", "arch/x86/lib/getuser.S")(_get_user(_size))


@function("void __check_object_size(const void *ptr, unsigned long n, bool to_user)",
          "mm/usercopy.c")
def __check_object_size(call, ptr, n, to_user):
    """CONFIG_HARDENED_USERCOPY's bounds check on the kernel side of a copy. Not modelled:
    it returns without checking (a copy past a slab object is not caught here)."""


@function("ssize_t simple_read_from_buffer(void *to, size_t count, loff_t *ppos, "
          "const void *from, size_t available)", "fs/libfs.c")
def simple_read_from_buffer(call, to, count, ppos, frm, available):
    space = call.machine.space
    pos = int.from_bytes(space.read(ppos, 8), "little", signed=True)
    if pos < 0:
        return -22  # -EINVAL
    if pos >= available or not count:
        return 0
    count = min(count, available - pos)
    left = U.copy_to_user(user_memory(call), to, space.read(frm + pos, count))
    if left == count:
        return -EFAULT
    count -= left
    space.write(ppos, (pos + count).to_bytes(8, "little", signed=True))
    return count


@function("ssize_t simple_write_to_buffer(void *to, size_t available, loff_t *ppos, "
          "const void *from, size_t count)", "fs/libfs.c")
def simple_write_to_buffer(call, to, available, ppos, frm, count):
    space = call.machine.space
    pos = int.from_bytes(space.read(ppos, 8), "little", signed=True)
    if pos < 0:
        return -22
    if pos >= available or not count:
        return 0
    count = min(count, available - pos)
    data, left = U.copy_from_user(user_memory(call), frm, count)
    if left == count:
        return -EFAULT
    count -= left
    space.write(to + pos, data[:count])
    space.write(ppos, (pos + count).to_bytes(8, "little", signed=True))
    return count


def user_memory_for(machine, address: int, length: int, data: bytes = b"") -> U.UserMemory:
    """The calling process's memory with a buffer at `address` (what it passes to read or
    write); a fresh address space per system call, as the simulator runs one at a time."""
    memory = U.UserMemory()
    memory.map(address, length, data)
    machine.objects["user"] = memory
    return memory


TASK_SIZE_MAX = 1 << 47  # arch/x86/include/asm/page_64_types.h (4-level paging)


def _copy_user_generic(call, to, frm, n):
    """copy_user_generic (arch/x86/include/asm/uaccess_64.h), what raw_copy_{to,from}_user
    call: the kernel's alternatives pick one of three copies by CPU feature (ERMS, REP_GOOD)
    at load; all copy `len` bytes either way and return in %eax what they could not copy,
    without zeroing the rest (arch/x86/lib/copy_user_64.S)."""
    memory = user_memory(call)
    if to < TASK_SIZE_MAX:
        return U.copy_to_user(memory, to, call.machine.space.read(frm, n))
    if frm < TASK_SIZE_MAX:
        data, left = U.copy_from_user(memory, frm, n)
        call.machine.space.write(to, data[:n - left])
        return left
    call.machine.space.write(to, call.machine.space.read(frm, n))
    return 0


for _name in ("copy_user_generic_unrolled", "copy_user_generic_string",
              "copy_user_enhanced_fast_string"):
    function(f"unsigned long {_name}(void *to, const void *from, unsigned int len)",
             "arch/x86/lib/copy_user_64.S")(_copy_user_generic)
