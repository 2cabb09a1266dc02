"""What the compiler's hardening calls: the stack protector's failure path.

__fentry__, __x86_return_thunk and __x86_indirect_thunk_<reg> are real code in the machine's
THUNKS page (kcourse.machine.cpu), not Python: they run as instructions.
"""

from __future__ import annotations

from kcourse.kapi.registry import function
from kcourse.kernel import oops


@function("void __stack_chk_fail(void)", "kernel/panic.c")
def __stack_chk_fail(call):
    """panic("stack-protector: Kernel stack is corrupted in: %pB\\n",
    __builtin_return_address(0)): the canary at %gs:0x28 did not survive the function."""
    reason = f"stack-protector: Kernel stack is corrupted in: {call.site}"
    raise oops.KernelOops(oops.panic_lines(reason), panic=True, headline=reason)
