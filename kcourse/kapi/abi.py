"""The System V AMD64 calling convention, as module code calls into the kernel.

Integer and pointer arguments go in %rdi, %rsi, %rdx, %rcx, %r8, %r9, then on the stack: at
the first instruction of the callee, (%rsp) is the return address and the 7th argument is at
8(%rsp). The result goes back in %rax. The kernel is built without SSE (-mno-sse), so no
floating-point registers are involved, and a variadic call passes everything the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from kcourse.kapi.registry import Function, Param

ARG_REGS = ("rdi", "rsi", "rdx", "rcx", "r8", "r9")
MASK64 = (1 << 64) - 1


def to_c(value: int, bits: int, signed: bool) -> int:
    value &= (1 << bits) - 1
    if signed and value >> (bits - 1):
        value -= 1 << bits
    return value


@dataclass
class Call:
    """One call from module code into a kapi function: its arguments and its context."""

    machine: object  # kcourse.machine.Machine
    function: Function
    return_address: int

    @property
    def kernel(self):
        return self.machine.kernel

    @property
    def caller(self):
        """The Module whose code made the call: where it returns to, or, for a tail call
        (`jmp misc_register`), the module the running call entered."""
        return self.machine.module_at(self.return_address) or self.machine.running_module()

    @property
    def site(self) -> str:
        """The call site as %pS prints it: hello_init+0x1a/0x40 [hello]."""
        return self.machine.symbolize(self.return_address) or f"{self.return_address:#x}"

    def raw(self, index: int) -> int:
        """Argument slot `index` (0-based) as a 64-bit unsigned value."""
        if index < len(ARG_REGS):
            return self.machine.reg(ARG_REGS[index])
        rsp = self.machine.reg("rsp")
        return self.machine.space.read_u64(rsp + 8 * (index - len(ARG_REGS) + 1))

    def decode(self) -> list:
        """The declared parameters, each as its C type says (see registry.Param)."""
        return [self._value(i, p) for i, p in enumerate(self.function.params)]

    def _value(self, index: int, param: Param):
        raw = self.raw(index)
        if param.is_string:
            return None if raw == 0 else self.machine.space.read_cstring(raw, 1 << 20)
        bits, signed = param.width_signed
        return to_c(raw, bits, signed)

    def varargs(self):
        """The `...` arguments, in order (a va_list for vsnprintf)."""
        return VarArgs(self, len(self.function.params))


class VarArgs:
    def __init__(self, call: Call, first: int):
        self.call, self.index = call, first

    def next_u64(self) -> int:
        value = self.call.raw(self.index)
        self.index += 1
        return value
