"""Dynamic per-CPU memory: __alloc_percpu_gfp, __alloc_percpu, free_percpu (mm/percpu.c),
and the CPU masks that for_each_possible_cpu() walks (kernel/cpu.c).

A per-CPU pointer is an offset: CPU n's copy is at ptr + __per_cpu_offset[n], which
this_cpu_ptr() finds through %gs:this_cpu_off. The lab's guest has one CPU, so here each
allocation is one zeroed area of kernel memory and the pointer is that address minus CPU 0's
per-cpu base (kcourse.machine.cpu.PERCPU, this_cpu_off's value). Not modelled: a second
CPU's copy (kcourse.machine.smp's CPUs other than 0 would find no memory there) and
kmemleak's tracking of per-CPU areas.
"""

from __future__ import annotations

from kcourse.kapi.registry import data, function
from kcourse.kapi.vfsfile import limit
from kcourse.machine import cpu as C

MASK64 = (1 << 64) - 1
NR_CPUS = 8192  # CONFIG_NR_CPUS in Debian's config
NR_POSSIBLE = 1  # the lab's guest: -smp 1


def this_cpu(machine, ptr: int) -> int:
    """per_cpu_ptr(ptr, 0)."""
    return (ptr + C.PERCPU) & MASK64


def _areas(machine) -> dict[int, int]:
    return machine.objects.setdefault("percpu", {})  # per-CPU pointer -> size


@function("void *__alloc_percpu_gfp(size_t size, size_t align, gfp_t gfp)", "mm/percpu.c")
def __alloc_percpu_gfp(call, size, align, gfp):
    if not size or size > 32768 or align > 4096:  # PCPU_MIN_UNIT_SIZE; pcpu_alloc's WARN
        raise limit(f"kcourse: {call.site} asks __alloc_percpu_gfp() for {size} bytes "
                    f"aligned {align}, which pcpu_alloc refuses with a warning that is not "
                    "modelled")
    address = call.machine.kernel_alloc(size + align)
    address = (address + align - 1) // max(align, 1) * max(align, 1)
    ptr = (address - C.PERCPU) & MASK64
    _areas(call.machine)[ptr] = size
    return ptr


@function("void *__alloc_percpu(size_t size, size_t align)", "mm/percpu.c")
def __alloc_percpu(call, size, align):
    return __alloc_percpu_gfp(call, size, align, 0xCC0)  # GFP_KERNEL


@function("void free_percpu(void *ptr)", "mm/percpu.c")
def free_percpu(call, ptr):
    if not ptr:
        return
    if _areas(call.machine).pop(ptr, None) is None:
        raise limit(f"kcourse: {call.site} passes free_percpu() {ptr:#x}, which is no "
                    "per-CPU area (pcpu_free_area's WARN is not modelled)")


@data("struct cpumask __cpu_possible_mask", "kernel/cpu.c", NR_CPUS // 8)
def __cpu_possible_mask(machine, address):
    return ((1 << NR_POSSIBLE) - 1).to_bytes(NR_CPUS // 8, "little")


@data("unsigned int nr_cpu_ids", "kernel/smp.c", 4)
def nr_cpu_ids(machine, address):
    return NR_POSSIBLE.to_bytes(4, "little")
