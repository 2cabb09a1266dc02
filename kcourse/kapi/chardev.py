"""misc devices: misc_register/misc_deregister (drivers/char/misc.c), and their files.

struct miscdevice (include/linux/miscdevice.h, 80 bytes in the pinned kernel's BTF):
minor at 0, name at 8, fops at 16, mode (umode_t) at 72. misc_register gives
MISC_DYNAMIC_MINOR (255) devices a minor counting down from 127 (misc.c: misc_minors bitmap,
find_first_zero_bit from DYNAMIC_MINORS) and makes /dev/<name> (devtmpfs, mode 0600 unless
miscdevice.mode says otherwise). The simulator's shell opens it through the Kernel, which calls
the module's own file_operations (kcourse.machine.files).
"""

from __future__ import annotations

from dataclasses import dataclass

from kcourse.kapi.registry import function

MISC_DYNAMIC_MINOR = 255
DYNAMIC_MINORS = 128
EBUSY, EINVAL = 16, 22
OFF_MINOR, OFF_NAME, OFF_FOPS, OFF_MODE = 0, 8, 16, 72


@dataclass
class MiscDevice:
    address: int  # the module's struct miscdevice
    name: str
    minor: int
    fops: int
    module: object


def devices(machine) -> dict[str, MiscDevice]:
    return machine.objects.setdefault("misc", {})


@function("int misc_register(struct miscdevice *misc)", "drivers/char/misc.c")
def misc_register(call, misc):
    space = call.machine.space
    minor = int.from_bytes(space.read(misc + OFF_MINOR, 4), "little", signed=True)
    name = space.read_cstring(space.read_u64(misc + OFF_NAME)).decode("utf-8", "replace")
    fops = space.read_u64(misc + OFF_FOPS)
    mode = int.from_bytes(space.read(misc + OFF_MODE, 2), "little") or 0o600
    table = devices(call.machine)
    used = {d.minor for d in table.values()}
    if minor == MISC_DYNAMIC_MINOR:
        free = [m for m in range(DYNAMIC_MINORS - 1, -1, -1) if m not in used]
        if not free:
            return -EBUSY
        minor = free[0]
        space.write(misc + OFF_MINOR, minor.to_bytes(4, "little"))
    elif minor in used:
        return -EBUSY
    if name in table or call.kernel.devices.get(name):
        return -EBUSY  # device_create: the name is taken in devtmpfs/sysfs
    from kcourse.kapi.sched import module_of

    # fops->owner (THIS_MODULE) is whose reference an open takes (fops_get)
    owner = (module_of(call, space.read_u64(fops)) if fops else None) or call.caller
    table[name] = MiscDevice(misc, name, minor, fops, owner)
    call.kernel.register_device(name, owner, mode & 0o777)
    return 0


@function("void misc_deregister(struct miscdevice *misc)", "drivers/char/misc.c")
def misc_deregister(call, misc):
    table = devices(call.machine)
    for name, dev in list(table.items()):
        if dev.address == misc:
            del table[name]
            call.kernel.unregister_device(name)
