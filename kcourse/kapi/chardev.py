"""misc devices: misc_register/misc_deregister (drivers/char/misc.c), and their files.

struct miscdevice (include/linux/miscdevice.h, 80 bytes in the pinned kernel's BTF):
minor at 0, name at 8, fops at 16, mode (umode_t) at 72. misc_register gives
MISC_DYNAMIC_MINOR (255) devices a minor counting down from 127 (misc.c: misc_minors bitmap,
find_first_zero_bit from DYNAMIC_MINORS; the guest's own misc devices hold 127-125 and
others: kcourse.kernel.chrdevs.BOOT_MISC, listed with the modules' in /proc/misc) and makes
/dev/<name> (devtmpfs, mode 0600 unless miscdevice.mode says otherwise). The simulator's
shell opens it through the Kernel, which calls the module's own file_operations
(kcourse.machine.files). A device its module never deregistered outlives the module, as on
Linux: /dev/<name> stays, the name stays taken (a second misc_register of it is kernfs's
-EEXIST), and opening it is a one-line limit.
"""

from __future__ import annotations

from dataclasses import dataclass

from kcourse.kapi.registry import function
from kcourse.kernel.chrdevs import BOOT_MISC

MISC_MAJOR = 10  # include/uapi/linux/major.h
MISC_DYNAMIC_MINOR = 255
DYNAMIC_MINORS = 128
EBUSY, EEXIST, EINVAL = 16, 17, 22
OFF_MINOR, OFF_NAME, OFF_FOPS, OFF_MODE = 0, 8, 16, 72


@dataclass
class MiscDevice:
    address: int  # the module's struct miscdevice
    name: str
    minor: int
    fops: int
    module: object
    stale: bool = False  # its module is gone and never deregistered it: it stays registered


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
    used = {d.minor for d in table.values()} | {m for m, _n in BOOT_MISC}
    dynamic = minor == MISC_DYNAMIC_MINOR
    if dynamic:
        free = [m for m in range(DYNAMIC_MINORS - 1, -1, -1) if m not in used]
        if not free:
            return -EBUSY
        minor = free[0]
        space.write(misc + OFF_MINOR, minor.to_bytes(4, "little"))
    elif minor in used:
        return -EBUSY
    if name in table or name in {n for _m, n in BOOT_MISC}:
        # device_create_with_groups: /sys/devices/virtual/misc/<name> exists, kernfs refuses
        # it (sysfs_warn_dup), misc_register gives the minor back and returns -EEXIST
        # (misc.c:209-221; the lab's guest prints the same lines)
        from kcourse.kapi.device import _duplicate  # (device imports cdev, which imports us)

        space.write(misc + OFF_MINOR, (MISC_DYNAMIC_MINOR if dynamic else minor)
                    .to_bytes(4, "little"))
        _duplicate(call, "/devices/virtual/misc", name, [
            "kobject_add+0x9b/0xd0", "device_add+0xe0/0x8d0",
            "device_create_groups_vargs+0xce/0xf0", "device_create_with_groups+0x47/0x70",
            "misc_register+0x14c/0x190"])
        return -EEXIST
    if call.kernel.devices.get(name):
        return -EBUSY  # device_create: the name is taken in devtmpfs/sysfs
    from kcourse.kapi.sched import module_of

    # fops->owner (THIS_MODULE) is whose reference an open takes (fops_get)
    owner = (module_of(call, space.read_u64(fops)) if fops else None) or call.caller
    table[name] = MiscDevice(misc, name, minor, fops, owner)
    # device_create(misc_class, ..., MKDEV(MISC_MAJOR, misc->minor), ...): misc.c:211
    call.kernel.register_device(name, owner, mode & 0o777, MISC_MAJOR << 20 | minor)
    return 0


@function("void misc_deregister(struct miscdevice *misc)", "drivers/char/misc.c")
def misc_deregister(call, misc):
    table = devices(call.machine)
    for name, dev in list(table.items()):
        if dev.address == misc and not dev.stale:
            del table[name]
            call.kernel.unregister_device(name)
