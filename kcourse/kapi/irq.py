"""Interrupt lines (kernel/irq/manage.c, kernel/irq/devres.c) as the lab's QEMU machine has
them: descriptors for the legacy lines 0-15 only (CONFIG_SPARSE_IRQ, no other device asked
for one), held at boot by the timer (0, flags 0x15a00), i8042 (1 and 12, shared), ttyS0 (4),
rtc0 (8) and acpi (9, shared) (tests/data/kapi4/lab/irqs.expected).

request_threaded_irq: IRQ_NOTCONNECTED is -ENOTCONN; IRQF_SHARED without dev_id (or with
IRQF_NO_AUTOEN), IRQF_COND_SUSPEND without IRQF_SHARED or with IRQF_NO_SUSPEND, a line with
no descriptor, or neither handler nor thread_fn are -EINVAL. __setup_irq: a line in use is
shared only if both actions have IRQF_SHARED, the same trigger type and the same
IRQF_ONESHOT and IRQF_PERCPU, else "genirq: Flags mismatch irq N. <new> (<name>) vs. <old>
(<name>)" and -EBUSY (CONFIG_DEBUG_SHIRQ is off: no stack); a thread_fn without a handler
needs IRQF_ONESHOT ("Threaded irq requested with handler=NULL and !ONESHOT", -EINVAL: the
IO-APIC is not ONESHOT_SAFE). free_irq returns the action's name, or NULL after WARN "Trying
to free already-free IRQ N" for a dev_id not on the line; a line without descriptor is
NULL quietly. Line 2 (the PIC cascade) is not modelled (one line).

No device of the machine raises these lines, so a handler the module installs never runs,
as on the guest; the irq/N-name thread of a threaded handler is not made, and
/proc/interrupts and /proc/irq are not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass

from kcourse.kapi import devres, kwarn, slab
from kcourse.kapi.dev_printk import device_name
from kcourse.kapi.registry import function
from kcourse.kernel.kernel import SimulatorLimit

IRQF_TRIGGER_MASK, IRQF_SHARED, IRQF_PROBE_SHARED = 0x0F, 0x80, 0x100
IRQF_PERCPU, IRQF_ONESHOT, IRQF_NO_SUSPEND = 0x400, 0x2000, 0x4000
IRQF_COND_SUSPEND, IRQF_NO_AUTOEN = 0x40000, 0x80000
IRQ_NOTCONNECTED = 1 << 31
EINVAL, EBUSY, ENOTCONN, ENOMEM = 22, 16, 107, 12
BOOT = {0: [("timer", 0x15A00)], 1: [("i8042", IRQF_SHARED)], 4: [("ttyS0", 0)],
        8: [("rtc0", 0)], 9: [("acpi", IRQF_SHARED)], 12: [("i8042", IRQF_SHARED)]}
FREE_WARN = "+0x1d3/0x340"  # free_irq's WARN on Debian's kernel (tests/data/kapi4/irqprobe)


@dataclass
class Action:
    name: str
    name_at: int  # the caller's devname pointer, what free_irq returns
    flags: int
    dev_id: int


def _lines(machine) -> dict[int, list[Action]]:
    lines = machine.objects.get("irq_lines")
    if lines is None:
        lines = machine.objects["irq_lines"] = {irq: [] for irq in range(16)}
        for irq, actions in BOOT.items():
            for name, flags in actions:
                at = machine.kernel_string(name.encode() + b"\0")
                lines[irq].append(Action(name, at, flags, 0))
    return lines


def request(call, irq: int, handler: int, thread_fn: int, flags: int, name_at: int,
            dev_id: int) -> int:
    if irq == IRQ_NOTCONNECTED:
        return -ENOTCONN
    shared = flags & IRQF_SHARED
    if (shared and not dev_id) or (shared and flags & IRQF_NO_AUTOEN) or \
            (not shared and flags & IRQF_COND_SUSPEND) or \
            (flags & IRQF_NO_SUSPEND and flags & IRQF_COND_SUSPEND):
        return -EINVAL
    lines = _lines(call.machine)
    if irq not in lines:
        return -EINVAL  # irq_to_desc: no descriptor
    if irq == 2:
        raise SimulatorLimit(f"kcourse: {call.site} requests IRQ 2, the PIC cascade, which "
                             "the simulator does not model; run it on the real kernel with "
                             "`kcourse sim --real`")
    if not handler and not thread_fn:
        return -EINVAL
    name = call.machine.space.read_cstring(name_at).decode("utf-8", "surrogateescape") \
        if name_at else "(null)"
    actions = lines[irq]
    if actions:
        old = actions[0]
        if not (old.flags & flags & IRQF_SHARED) or \
                (old.flags & IRQF_TRIGGER_MASK) != (flags & IRQF_TRIGGER_MASK) or \
                (old.flags ^ flags) & (IRQF_ONESHOT | IRQF_PERCPU):
            if not flags & IRQF_PROBE_SHARED:
                call.kernel.log.printk(f"\0013genirq: Flags mismatch irq {irq}. {flags:08x} "
                                       f"({name}) vs. {old.flags:08x} ({old.name})\n")
            return -EBUSY
    if not handler and not flags & IRQF_ONESHOT:
        call.kernel.log.printk(f"\0013genirq: Threaded irq requested with handler=NULL and "
                               f"!ONESHOT for {name} (irq {irq})\n")
        return -EINVAL
    actions.append(Action(name, name_at, flags, dev_id))
    return 0


@function("int request_threaded_irq(unsigned int irq, irq_handler_t handler, "
          "irq_handler_t thread_fn, unsigned long irqflags, const char *devname, "
          "void *dev_id)", "kernel/irq/manage.c")
def request_threaded_irq(call, irq, handler, thread_fn, irqflags, devname, dev_id):
    return request(call, irq, handler, thread_fn, irqflags, call.raw(4), dev_id)


def release(call, irq: int, dev_id: int) -> int:
    """free_irq: the devname pointer, or 0."""
    lines = _lines(call.machine)
    if irq not in lines:
        return 0
    for i, action in enumerate(lines[irq]):
        if action.dev_id == dev_id:
            del lines[irq][i]
            return action.name_at
    kwarn.warn(call, "kernel/irq/manage.c:1887", "free_irq",
               f"Trying to free already-free IRQ {irq}", offset=FREE_WARN)
    return 0


@function("const void *free_irq(unsigned int irq, void *dev_id)", "kernel/irq/manage.c")
def free_irq(call, irq, dev_id):
    return release(call, irq, dev_id)


@function("int devm_request_threaded_irq(struct device *dev, unsigned int irq, "
          "irq_handler_t handler, irq_handler_t thread_fn, unsigned long irqflags, "
          "const char *devname, void *dev_id)", "kernel/irq/devres.c")
def devm_request_threaded_irq(call, dev, irq, handler, thread_fn, irqflags, devname, dev_id):
    """devres_alloc(devm_irq_release), request_threaded_irq (devname NULL: dev_name(dev)),
    and the devres frees the line when the device's resources go."""
    dr = slab._kmalloc(call, devres.DEVRES_HEADER + 16, 0xCC0)
    if not dr:
        return -ENOMEM
    name_at = call.raw(5)
    if not name_at:
        name_at = call.machine.kernel_string(device_name(call, dev).encode() + b"\0")
    ret = request(call, irq, handler, thread_fn, irqflags, name_at, dev_id)
    if ret:
        slab.kfree(call, dr)
        return ret

    def gone():
        release(call, irq, dev_id)
        slab.kfree(call, dr)

    devres.add(call.machine, dev, dr + devres.DEVRES_HEADER, gone)
    return 0
