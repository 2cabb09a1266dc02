"""Firmware loading (drivers/base/firmware_loader/main.c) as the lab's guest answers it: it
has no firmware files (no /lib/firmware in its initramfs, CONFIG_EXTRA_FIRMWARE=""), so
every request fails with -ENOENT.

_request_firmware: no firmware_p is -EINVAL; a NULL or empty name is -EINVAL, and one with a
".." component is refused with a warning; else the direct load is tried for the name and,
CONFIG_FW_LOADER_COMPRESS_XZ=y, for name.xz: each miss is Debian's dev_err "firmware: failed
to load <name> (-2)" (debian/patches: the first -ENOENT of the boot also says where to look,
pr_err_once), then dev_warn "Direct firmware load for <name> failed with error -2" unless
FW_OPT_NO_WARN (request_firmware_direct, firmware_request_nowarn). There is no sysfs
fallback (CONFIG_FW_LOADER_USER_HELPER_FALLBACK is not set and nothing forces it), so
*firmware_p is NULL and the call returns -ENOENT. A device's messages carry its driver and
name; a NULL device's "(NULL device *): ".
"""

from __future__ import annotations

from kcourse.kapi import dev_printk
from kcourse.kapi.registry import function
from kcourse.kernel.kernel import SimulatorLimit

ENOENT, EINVAL = 2, 22
KERN_ERR, KERN_WARNING = 3, 4
WIKI = "See https://wiki.debian.org/Firmware for information about missing firmware"


def _dev_log(call, level: int, dev: int, text: str) -> None:
    if dev:
        where = f"{dev_printk.driver_string(call, dev)} {dev_printk.device_name(call, dev)}"
    else:
        where = "(NULL device *)"
    call.kernel.log.printk(f"\001{level}{where}: {text}\n")


def request(call, firmware_p: int, name: bytes | None, device: int, warn: bool) -> int:
    space = call.machine.space
    if not firmware_p:
        return -EINVAL
    ret = -EINVAL
    text = (name or b"").decode("utf-8", "surrogateescape")
    if text and ".." in text.split("/"):  # name_contains_dotdot
        _dev_log(call, KERN_WARNING, device,
                 f"Firmware load for '{text}' refused, path contains '..' component")
    elif text:
        for _suffix in ("", ".xz"):  # fw_get_filesystem_firmware, found in no fw_path
            _dev_log(call, KERN_ERR, device, f"firmware: failed to load {text} (-{ENOENT})")
            if not call.machine.objects.get("firmware_wiki_said"):
                call.machine.objects["firmware_wiki_said"] = True
                call.kernel.log.printk(f"\001{KERN_ERR}firmware_class: {WIKI}\n")
        if warn:
            _dev_log(call, KERN_WARNING, device,
                     f"Direct firmware load for {text} failed with error -{ENOENT}")
        ret = -ENOENT
    space.write_u64(firmware_p, 0)
    return ret


@function("int request_firmware(const struct firmware **firmware_p, const char *name, "
          "struct device *device)", "drivers/base/firmware_loader/main.c")
def request_firmware(call, firmware_p, name, device):
    return request(call, firmware_p, name, device, warn=True)


@function("int firmware_request_nowarn(const struct firmware **firmware, const char *name, "
          "struct device *device)", "drivers/base/firmware_loader/main.c")
def firmware_request_nowarn(call, firmware, name, device):
    return request(call, firmware, name, device, warn=False)


@function("int request_firmware_direct(const struct firmware **firmware_p, const char *name, "
          "struct device *device)", "drivers/base/firmware_loader/main.c")
def request_firmware_direct(call, firmware_p, name, device):
    return request(call, firmware_p, name, device, warn=False)


@function("void release_firmware(const struct firmware *fw)",
          "drivers/base/firmware_loader/main.c")
def release_firmware(call, fw):
    if fw:
        raise SimulatorLimit(f"kcourse: {call.site} releases a struct firmware at {fw:#x}, "
                             "which no request here loaded (the simulator's requests all "
                             "fail, as the lab's guest has no firmware)")
