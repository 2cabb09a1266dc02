"""Reaching user memory from the kernel: only through the uaccess functions.

A pointer a process passes to read()/write()/ioctl() is a *user* address. The kernel may not
dereference it: the page may be missing, the address may be a kernel address chosen by an
attacker, and with SMAP (on whenever the CPU has it: arch/x86/kernel/cpu/common.c setup_smap)
any supervisor access to a user page outside stac()/clac() faults. The page-fault handler
finds no exception-table entry for a plain dereference and oopses (arch/x86/mm/fault.c:
1249-1257 -> page_fault_oops). copy_to_user()/copy_from_user() set EFLAGS.AC for the copy and
carry exception-table fixups, so a bad address just makes them return early.

Return values (include/linux/uaccess.h, lib/usercopy.c:10-45, arch/x86/include/asm/uaccess.h):
- copy_to_user / copy_from_user: the number of bytes NOT copied; 0 means success. A partial
  copy_from_user zero-fills the rest of the kernel buffer (lib/usercopy.c:26-27).
- get_user / put_user: 0, or -EFAULT.
- an address range reaching past TASK_SIZE_MAX = (1 << 47) - PAGE_SIZE fails access_ok()
  and copies nothing (arch/x86/include/asm/page_64_types.h:61).
They may sleep (a page fault may need to read the page in): might_fault() at
lib/usercopy.c:14 (from) and :36 (to), so they are not allowed under a spinlock.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from kcourse.kernel import oops

PAGE_SIZE = 4096
TASK_SIZE_MAX = (1 << 47) - PAGE_SIZE
EFAULT = 14
X86_PF_PROT, X86_PF_WRITE, X86_PF_USER = 1, 2, 4  # arch/x86/include/asm/trap_pf.h


@dataclass
class UserMemory:
    """The calling process's address space: which user pages are mapped, and their bytes."""

    pages: dict[int, bytearray] = field(default_factory=dict)  # page number -> 4096 bytes

    def map(self, address: int, length: int, data: bytes = b"") -> int:
        """mmap/brk: make [address, address+length) present; returns address."""
        first, last = address // PAGE_SIZE, (address + max(length, 1) - 1) // PAGE_SIZE
        for page in range(first, last + 1):
            self.pages.setdefault(page, bytearray(PAGE_SIZE))
        self._poke(address, data)
        return address

    def mapped(self, address: int) -> bool:
        return address // PAGE_SIZE in self.pages

    def read(self, address: int, n: int) -> bytes:
        out = bytearray()
        while len(out) < n:  # a page at a time (a missing page raises KeyError, as before)
            at = address + len(out)
            offset = at % PAGE_SIZE
            out += self.pages[at // PAGE_SIZE][offset:offset + n - len(out)]
        return bytes(out)

    def _poke(self, address: int, data: bytes) -> None:
        done = 0
        while done < len(data):
            at = address + done
            offset = at % PAGE_SIZE
            chunk = data[done:done + PAGE_SIZE - offset]
            self.pages[at // PAGE_SIZE][offset:offset + len(chunk)] = chunk
            done += len(chunk)

    def _copyable(self, address: int, n: int) -> int:
        """How many bytes from `address` can be touched before the first missing page."""
        if n and (address + n > TASK_SIZE_MAX or address + n < address):
            return -1  # access_ok() fails: nothing is tried
        done = 0
        while done < n and self.mapped(address + done):
            done = min(n, (address + done) // PAGE_SIZE * PAGE_SIZE + PAGE_SIZE - address)
        return done


def copy_to_user(mem: UserMemory, to: int, data: bytes) -> int:
    """Copy kernel bytes out; returns how many were NOT copied."""
    n = len(data)
    ok = mem._copyable(to, n)
    if ok < 0:
        return n
    mem._poke(to, data[:ok])
    return n - ok


def copy_from_user(mem: UserMemory, frm: int, n: int) -> tuple[bytes, int]:
    """Copy n user bytes in; returns (kernel buffer, bytes NOT copied). The tail is zeroed."""
    ok = mem._copyable(frm, n)
    if ok < 0:
        return bytes(n), n
    return mem.read(frm, ok) + bytes(n - ok), n - ok


def get_user(mem: UserMemory, address: int, size: int = 4) -> tuple[int, int]:
    """get_user(x, ptr): (value, 0) or (0, -EFAULT). x is zeroed on failure."""
    data, left = copy_from_user(mem, address, size)
    return (0, -EFAULT) if left else (int.from_bytes(data, "little", signed=False), 0)


def put_user(mem: UserMemory, value: int, address: int, size: int = 4) -> int:
    """put_user(x, ptr): 0 or -EFAULT; nothing partial is written."""
    if mem._copyable(address, size) != size:
        return -EFAULT
    mem._poke(address, (value & ((1 << 8 * size) - 1)).to_bytes(size, "little"))
    return 0


def pagetable_line(present: bool, rng: random.Random) -> tuple[int, str]:
    """dump_pagetable (arch/x86/mm/fault.c:381-414): the walk down to a present user page
    (table addresses are model values), or "PGD 0 P4D 0" when nothing is mapped there."""
    if not present:
        return (oops.KERN_INFO, "PGD 0 P4D 0")
    table = 0x100000000 | rng.getrandbits(24) << 12
    top = table | 0x8000000000000067
    return (oops.KERN_INFO, f"PGD {top:x} P4D {top:x} PUD {table + 0x1000 | 0x67:x} "
                            f"PMD {table + 0x2000 | 0x67:x} "
                            f"PTE {table + 0x3000 | 0x8000000000000867:x}")


def deref_oops(mem: UserMemory, address: int, rip: str, write: bool = False,
               machine: oops.Machine | None = None, pid: int = 1234, comm: str = "cat",
               frames: list[str] | None = None, seed: int = 0, code: str | None = None,
               register: str = "RDI", cr2_now: int | None = None) -> oops.KernelOops:
    """What `*(int *)user_ptr` in module code gets: the SMAP page-fault oops.

    Returns the KernelOops to raise. Error code (fault.c:553-571): no USER bit (the kernel
    did it), WRITE for a store, PROT when the page is present (SMAP refused it) - else the
    page is simply not there. Below PAGE_SIZE it is reported as a NULL dereference.
    `code`: the Code: line (kcourse.kernel.faultsite.code_line) when the module's bytes are
    known; `register`: the one holding the pointer (baduser_write.cold reads (%rsi)).
    """
    machine = machine or oops.Machine()
    rng = random.Random(seed)
    present = mem.mapped(address)
    err = (X86_PF_PROT if present else 0) | (X86_PF_WRITE if write else 0)
    if address < PAGE_SIZE:
        first = f"BUG: kernel NULL pointer dereference, address: {address:016x}"
    else:
        first = f"BUG: unable to handle page fault for address: {address:016x}"
    lines = [(oops.KERN_ALERT, first),
             (oops.KERN_ALERT, "#PF: supervisor " + ("write" if write else "read") +
              " access in kernel mode"),
             (oops.KERN_ALERT, f"#PF: error_code(0x{err:04x}) - " +
              ("permissions violation" if present else "not-present page"))]
    lines.append(pagetable_line(present, rng))
    frames = frames if frames is not None else oops._syscall_tail(comm)
    opcode = b"\x89\x07" if write else b"\x8b\x07"  # mov %eax,(%rdi) / mov (%rdi),%eax
    body, panicked = oops.die_lines(machine, "Oops", err, pid, comm, rip, frames, cr2=address,
                                    opcode=opcode, regs={register: address}, seed=seed,
                                    code=code, cr2_now=cr2_now)
    return oops.KernelOops(lines + body, panic=panicked, headline=first)
