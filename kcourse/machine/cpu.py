"""The emulated x86-64 CPU that runs module code, and the kernel's side of its address space.

One Machine per Kernel: a unicorn CPU in 64-bit long mode with paging (address_space), the
kernel's fixed regions, and calls from the simulator into module code and back.

Regions (arch/x86/include/asm/pgtable_64_types.h, Documentation/x86/x86_64/mm.rst):
- KAPI_TEXT (0xffffffff81000000, the kernel's text without KASLR): one 16-byte slot per
  kernel function a module calls. Each slot is a `ret`; a code hook on the slots runs the
  Python model of that function (kcourse.kapi) first, with the arguments where the System V
  ABI puts them, then the `ret` returns to the module with the result in %rax.
- THUNKS: real code for what every Debian module calls - `__fentry__` (ftrace's call at
  every function entry: a `ret` while no tracer is on), `__x86_return_thunk` (the retbleed
  mitigation jumps here instead of `ret`: a `ret`), `__x86_indirect_thunk_<reg>` (retpoline:
  `jmp *%reg`).
- KDATA: the kernel data modules read by address (jiffies, kmalloc_caches, param_ops_*).
- UNMODELLED: a data symbol kcourse does not model gets an address here that is never mapped;
  an access faults and is reported as that symbol, not as a wild pointer.
- the per-CPU area (GS base: `%gs:current_task`, the stack canary at %gs:0x28), task structs
  in the direct map, and kernel stacks of THREAD_SIZE in the vmalloc area with a guard page
  below each, as CONFIG_VMAP_STACK=y gives them (kernel/fork.c alloc_thread_stack_node).
"""

from __future__ import annotations

import struct

PAGE = 4096
KAPI_TEXT = 0xFFFF_FFFF_8100_0000
SLOT = 16
THUNKS = 0xFFFF_FFFF_81F0_0000
RETURN_TRAP = 0xFFFF_FFFF_81FF_F800  # where a call from the simulator returns to (mid-page:
# unicorn reads the page before an `until` address that starts a page)
KDATA = 0xFFFF_FFFF_8280_0000
UNMODELLED = 0xFFFF_FFFF_8400_0000
PERCPU = 0xFFFF_8880_7FC0_0000  # CPU 0's per-cpu area (GS base)
PERCPU_SIZE = 0x40000
TASKS = 0xFFFF_8880_0400_0000  # task_structs (direct map, below what the ledger hands out)
STACKS = 0xFFFF_C900_4000_0000
STACK_CANARY = 0x28  # struct fixed_percpu_data (arch/x86/include/asm/processor.h)
X86_CR0_PE, X86_CR0_PG, X86_CR4_PAE = 1 << 0, 1 << 31, 1 << 5
# CR0 as Debian's kernel runs with it (PG AM WP NE ET MP PE: "CR0: 0000000080050033" in its
# oopses); CR4 with what paging needs and OSFXSR|OSXMMEXCPT, without which SSE instructions
# (valid in kernel code between kernel_fpu_begin/end) would be #UD (arch/x86/kernel/fpu/init.c
# fpu__init_cpu_generic sets both)
KERNEL_CR0 = 0x8005_0033
KERNEL_CR4 = X86_CR4_PAE | 1 << 7 | 1 << 9 | 1 << 10  # PAE PGE OSFXSR OSXMMEXCPT
MSR_EFER, EFER_LME, EFER_LMA = 0xC000_0080, 1 << 8, 1 << 10
RET, INT3 = b"\xc3", b"\xcc"
REGS = ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11",
        "r12", "r13", "r14", "r15", "rip", "eflags")
INDIRECT_THUNK_REGS = ("rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                       "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15")


def _uc_modules():
    import unicorn  # imported on first use: `import kcourse` must not pay for it
    from unicorn import x86_const

    return unicorn, x86_const


def indirect_thunk(reg: str) -> bytes:
    """`jmp *%reg`: FF /4 with the register in ModRM.rm (REX.B for r8-r15)."""
    n = INDIRECT_THUNK_REGS.index(reg)
    return (b"\x41" if n >= 8 else b"") + bytes([0xFF, 0xE0 | (n & 7)])


class CPU:
    """unicorn in long mode with paging, plus register access by name."""

    def __init__(self, ram_bytes: int = 256 << 20):
        from kcourse.machine.address_space import AddressSpace

        unicorn, x86 = _uc_modules()
        self.unicorn, self.x86 = unicorn, x86
        self.uc = unicorn.Uc(unicorn.UC_ARCH_X86, unicorn.UC_MODE_64)
        self.space = AddressSpace(self.uc, ram_bytes)
        self._reg_ids = {name: getattr(x86, f"UC_X86_REG_{name.upper()}") for name in REGS}
        uc = self.uc
        import ctypes

        from unicorn.unicorn_py3.unicorn import uclib

        self._value = ctypes.c_uint64()
        self._value_ref = ctypes.byref(self._value)
        self._read, self._uch = uclib.uc_reg_read, uc._uch
        uc.reg_write(x86.UC_X86_REG_CR3, self.space.pml4)
        uc.reg_write(x86.UC_X86_REG_CR4, KERNEL_CR4)
        uc.reg_write(x86.UC_X86_REG_MSR, (MSR_EFER, EFER_LME | EFER_LMA))
        uc.reg_write(x86.UC_X86_REG_CR0, KERNEL_CR0)

    def reg(self, name: str) -> int:
        """A 64-bit register (REGS) through uc_reg_read with a buffer made once: the
        binding's reg_read picks a register class and allocates one on every call."""
        value = self._value
        value.value = 0
        if self._read(self._uch, self._reg_ids[name], self._value_ref):
            raise RuntimeError(f"uc_reg_read {name} failed")
        return value.value

    def set_reg(self, name: str, value: int) -> None:
        self.uc.reg_write(self._reg_ids[name], value & 0xFFFF_FFFF_FFFF_FFFF)

    def registers(self) -> dict[str, int]:
        return {name: self.reg(name) for name in REGS}

    def register_values(self) -> tuple[int, ...]:
        """REGS' values in one uc_reg_read_batch, with the argument arrays built once: the
        binding's reg_read costs ~17 us a register, too much for a step-by-step run
        (kcourse.machine.smp)."""
        batch = getattr(self, "_batch", None)
        if batch is None:
            import ctypes

            ids = [self._reg_ids[name] for name in REGS]
            values = [ctypes.c_uint64() for _ in ids]
            pointers = (ctypes.c_void_p * len(ids))(*(ctypes.addressof(v) for v in values))
            batch = self._batch = ((ctypes.c_int * len(ids))(*ids), values, pointers,
                                   ctypes.c_int(len(ids)))
        ids, values, pointers, count = batch
        if self.uc._do_reg_read_batch(ids, pointers, count) != self.unicorn.UC_ERR_OK:
            raise RuntimeError("uc_reg_read_batch failed")
        return tuple(v.value for v in values)

    def set_gs_base(self, value: int) -> None:
        self.uc.reg_write(self.x86.UC_X86_REG_GS_BASE, value)

    def cr2(self) -> int:
        return self.uc.reg_read(self.x86.UC_X86_REG_CR2)

    def push(self, value: int) -> None:
        rsp = self.reg("rsp") - 8
        self.set_reg("rsp", rsp)
        self.space.write(rsp, struct.pack("<Q", value & 0xFFFF_FFFF_FFFF_FFFF))
