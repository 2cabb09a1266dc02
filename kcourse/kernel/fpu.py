"""Floating point in kernel code: only between kernel_fpu_begin() and kernel_fpu_end().

The FPU/SSE registers belong to the user task that was running. The kernel does not save them
on entry, so kernel code that touches them would corrupt the user's numbers. x86 kernel code is
built with -mno-sse -mno-mmx -mno-sse2 -mno-3dnow -mno-avx (arch/x86/Makefile:70) and
-mno-80387 (:136): a module that computes with `double` does not even build. gcc 12.2 against
linux-headers-6.1.0-56-amd64 stops with `error: SSE register return with SSE disabled`
(measured). Code that really needs it:
- goes in its own file built with `CFLAGS_foo.o += -mhard-float -msse -msse2` (as amdgpu's
  display code does, drivers/gpu/drm/amd/display/dc/dml/Makefile:29-50; 6.8+ offers
  CC_FLAGS_FPU), because the compiler may then use SSE registers anywhere in that file;
- calls it only between kernel_fpu_begin() and kernel_fpu_end(). kernel_fpu_begin() is an
  inline wrapper of kernel_fpu_begin_mask(); both that and kernel_fpu_end() are
  EXPORT_SYMBOL_GPL (arch/x86/kernel/fpu/core.c:470,479), so a non-GPL module fails at build:
  `ERROR: modpost: GPL-incompatible module fpmod.ko uses GPL-only symbol
  'kernel_fpu_begin_mask'` (measured);
- keeps the region short and does not sleep in it: kernel_fpu_begin disables preemption
  (core.c:449) and saves the user's FPU state once (XSAVE, core.c:456-460); the state is
  restored lazily on the way back to user space (TIF_NEED_FPU_LOAD).
Debian sets CONFIG_X86_DEBUG_FPU=y, so nesting begin or an end without begin WARNs
(core.c:452, 474 via WARN_ON_FPU).

The cost figures here are MODEL PARAMETERS, not measurements: what a save+restore costs
depends on the CPU and on the size of its XSAVE area.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kcourse.kernel import oops

BUILD_ERROR = "error: SSE register return with SSE disabled"
GPL_ONLY = ("kernel_fpu_begin_mask", "kernel_fpu_end")
FPU_CFLAGS = "-mhard-float -msse -msse2"


def modpost_errors(module: str, license_gpl_compatible: bool) -> list[str]:
    """scripts/mod/modpost.c check_exports: a GPL-incompatible module using GPL-only symbols."""
    if license_gpl_compatible:
        return []
    return [f"ERROR: modpost: GPL-incompatible module {module}.ko uses GPL-only symbol '{s}'"
            for s in GPL_ONLY]


@dataclass
class FpuCost:
    """A model of what FPU use in the kernel costs. Change the numbers; they are not measured."""

    save_restore_ns: float = 150.0  # one XSAVE + one XRSTOR of the user state (model value)
    xstate_bytes: int = 832  # legacy area 512 + XSAVE header 64 + AVX 256 (a CPU without AVX-512)


@dataclass
class KernelFpu:
    """One CPU running one task's kernel code: preemption count and the in_kernel_fpu flag."""

    kthread: bool = False  # kernel threads have no user FPU state to save
    pid: int = 1234
    comm: str = "insmod"
    cost: FpuCost = field(default_factory=FpuCost)
    preempt_count: int = 0
    in_kernel_fpu: bool = False
    need_fpu_load: bool = False  # TIF_NEED_FPU_LOAD: user state saved, restore on exit to user
    saves: int = 0
    restores: int = 0
    fp_ops: int = 0
    incidents: list[tuple[str, str]] = field(default_factory=list)  # (kind, text)

    def begin(self) -> None:
        """kernel_fpu_begin_mask (core.c:447-470)."""
        self.preempt_count += 1
        if self.in_kernel_fpu:
            self._warn("arch/x86/kernel/fpu/core.c:452", "kernel_fpu_begin_mask")
        self.in_kernel_fpu = True
        if not self.kthread and not self.need_fpu_load:
            self.need_fpu_load = True
            self.saves += 1

    def end(self) -> None:
        """kernel_fpu_end (core.c:472-479)."""
        if not self.in_kernel_fpu:
            self._warn("arch/x86/kernel/fpu/core.c:474", "kernel_fpu_end")
        self.in_kernel_fpu = False
        self.preempt_count = max(0, self.preempt_count - 1)

    def fp(self, what: str = "mulsd") -> None:
        """One floating-point instruction in module code."""
        self.fp_ops += 1
        if not self.in_kernel_fpu:
            self.incidents.append(("fp-outside", f"{what} outside kernel_fpu_begin/end: the "
                                   "user task's registers are clobbered silently (and gcc "
                                   f"refuses without {FPU_CFLAGS}: {BUILD_ERROR})"))

    def might_sleep(self, where: str = "kernel/locking/mutex.c:283") -> None:
        """Something that may sleep, e.g. mutex_lock, inside the region."""
        if self.preempt_count:
            lines = oops.might_sleep_lines(where, self.pid, self.comm, self.preempt_count)
            self.incidents.append(("sleep-in-atomic", oops.text(lines)))

    def return_to_user(self) -> None:
        """exit_to_user_mode: reload the user FPU state if the kernel borrowed the registers."""
        if self.need_fpu_load:
            self.need_fpu_load = False
            self.restores += 1

    def overhead_ns(self) -> float:
        """Save/restore cost so far under the model (half per save, half per restore)."""
        return (self.saves + self.restores) * self.cost.save_restore_ns / 2

    def _warn(self, where: str, function: str) -> None:
        lines = oops.warning_lines(where, function, self.pid, self.comm)
        self.incidents.append(("warn", oops.text(lines)))
