"""Character device numbers: fs/char_dev.c's chrdevs[] table and the text of /proc/devices.

register_chrdev_region, alloc_chrdev_region and __register_chrdev reserve a range of minors
of one major (__register_chrdev_region): a requested major must not overlap a range already
held (-EBUSY); major 0 asks for a dynamic one (find_dynamic_major): the first of 254 down to
234 whose hash slot chrdevs[major % 255] is empty, then 511 down to 384 that no range uses.

The machine boots with the ranges Debian's 6.1.0-56-amd64 registers in the lab's QEMU guest
(BOOT_PROC_DEVICES, its /proc/devices, recorded with `kcourse sim --real`). That is why LKMPG's
chardev is given major 246 there: 254 (gpiochip) to 247 (cxl) are taken. Minor ranges are the
registering drivers' (see BOOT_RANGES).

/proc/devices is fs/proc/devices.c devinfo_show: "Character devices:", then chrdev_show()
for each major in order ("%3d %s\n" for each range of that major, in chain order), a blank
line, "Block devices:" and blkdev_show() (block/genhd.c, same format).
"""

from __future__ import annotations

from dataclasses import dataclass

CHRDEV_MAJOR_HASH_SIZE = 255
CHRDEV_MAJOR_MAX = 512  # include/linux/fs.h
CHRDEV_MAJOR_DYN_END = 234
CHRDEV_MAJOR_DYN_EXT_START, CHRDEV_MAJOR_DYN_EXT_END = 511, 384
MINORBITS = 20
MINORMASK = (1 << MINORBITS) - 1
EBUSY, EINVAL = 16, 22

# The lab guest's /proc/devices after boot (Debian 6.1.0-56-amd64 under QEMU, TCG, -cpu max).
BOOT_PROC_DEVICES = """\
Character devices:
  1 mem
  4 /dev/vc/0
  4 tty
  4 ttyS
  5 /dev/tty
  5 /dev/console
  5 /dev/ptmx
  7 vcs
 10 misc
 13 input
 29 fb
128 ptm
136 pts
153 spi
247 cxl
248 bsg
249 ptp
250 pps
251 rtc
252 dax
253 tpm
254 gpiochip

Block devices:
259 blkext
"""

FULL_MAJOR = 1 << MINORBITS
# (major, baseminor, minor count, name): what each driver asks for at boot.
BOOT_RANGES = (
    (1, 0, 256, "mem"),  # drivers/char/mem.c chr_dev_init: register_chrdev(MEM_MAJOR, ...)
    (4, 0, 1, "/dev/vc/0"),  # drivers/tty/vt/vt.c vty_init
    (4, 1, 63, "tty"),  # vt.c: console_driver, MAX_NR_CONSOLES from minor 1
    (4, 64, 32, "ttyS"),  # 8250_core.c serial8250_reg: UART_NR (CONFIG_SERIAL_8250_NR_UARTS)
    (5, 0, 1, "/dev/tty"),  # drivers/tty/tty_io.c tty_init
    (5, 1, 1, "/dev/console"),
    (5, 2, 1, "/dev/ptmx"),  # drivers/tty/pty.c unix98_pty_init
    (7, 0, 256, "vcs"),  # drivers/tty/vt/vc_screen.c vcs_init: register_chrdev
    (10, 0, 256, "misc"),  # drivers/char/misc.c misc_init: register_chrdev
    (13, 0, 1024, "input"),  # drivers/input/input.c: INPUT_MAX_CHAR_DEVICES
    (29, 0, 256, "fb"),  # drivers/video/fbdev/core/fbmem.c fbmem_init: register_chrdev
    (128, 0, FULL_MAJOR, "ptm"),  # pty.c: NR_UNIX98_PTY_MAX
    (136, 0, FULL_MAJOR, "pts"),
    (153, 0, 256, "spi"),  # drivers/spi/spidev.c: register_chrdev(SPIDEV_MAJOR, ...)
    (247, 0, 1 << 16, "cxl"),  # drivers/cxl/core/memdev.c: CXL_MEM_MAX_DEVS
    (248, 0, FULL_MAJOR, "bsg"),  # block/bsg.c: BSG_MAX_DEVS
    (249, 0, FULL_MAJOR, "ptp"),  # drivers/ptp/ptp_clock.c: MINORMASK + 1
    (250, 0, FULL_MAJOR, "pps"),  # drivers/pps/pps.c: PPS_MAX_SOURCES
    (251, 0, 16, "rtc"),  # drivers/rtc/dev.c: RTC_DEV_MAX
    (252, 0, FULL_MAJOR, "dax"),  # drivers/dax/super.c: MINORMASK + 1
    (253, 0, 1 << 17, "tpm"),  # drivers/char/tpm/tpm-interface.c: 2 * TPM_NUM_DEVICES
    (254, 0, 256, "gpiochip"),  # drivers/gpio/gpiolib.c: GPIO_DEV_MAX
)
# The lab guest's /proc/misc after boot, in its order (misc.c misc_register: list_add, so
# the newest first; recorded in tests/data/block/lab/misc.expected). Three took dynamic minors
# from 127 down, so a module's first MISC_DYNAMIC_MINOR device gets 124 there.
BOOT_MISC = ((125, "cpu_dma_latency"), (1, "psaux"), (228, "hpet"), (126, "userfaultfd"),
             (231, "snapshot"), (183, "hw_random"), (127, "vga_arbiter"))
BOOT_BLOCK = ((259, "blkext", None),)  # (major, name, owner Module): major_names[]


def mkdev(major: int, minor: int) -> int:
    return (major << MINORBITS) | minor


def major_of(dev: int) -> int:
    return (dev >> MINORBITS) & 0xFFF


def minor_of(dev: int) -> int:
    return dev & MINORMASK


@dataclass
class Region:
    """struct char_device_struct: one range of minors of one major."""

    major: int
    baseminor: int
    minorct: int
    name: str
    owner: object = None  # the Module that registered it (None: the kernel's own)
    cdev: int = 0  # __register_chrdev's struct cdev (its address), 0 for a bare region


class ChrdevTable:
    def __init__(self):
        self._chains: dict[int, list[Region]] = {}  # hash index -> chain (sorted as inserted)
        # cdev_map (kobj_map): (first dev_t, count, struct cdev address, owner Module)
        self.cdev_map: list[tuple[int, int, int, object]] = []
        self.block = list(BOOT_BLOCK)
        for major, base, count, name in BOOT_RANGES:
            self.register(major, base, count, name)

    def _chain(self, major: int) -> list[Region]:
        return self._chains.setdefault(major % CHRDEV_MAJOR_HASH_SIZE, [])

    def find_dynamic_major(self) -> int:
        for i in range(CHRDEV_MAJOR_HASH_SIZE - 1, CHRDEV_MAJOR_DYN_END - 1, -1):
            if not self._chains.get(i):
                return i
        for i in range(CHRDEV_MAJOR_DYN_EXT_START, CHRDEV_MAJOR_DYN_EXT_END - 1, -1):
            if not any(r.major == i for r in self._chains.get(i % CHRDEV_MAJOR_HASH_SIZE, ())):
                return i
        return -EBUSY

    def register(self, major: int, baseminor: int, minorct: int, name: str,
                 owner=None) -> Region | int:
        """__register_chrdev_region: the Region, or -errno. The caller prints the pr_err
        lines the kernel prints for a bad major or minor range (see check())."""
        if major >= CHRDEV_MAJOR_MAX or minorct > MINORMASK + 1 - baseminor:
            return -EINVAL
        if major == 0:
            major = self.find_dynamic_major()
            if major < 0:
                return major
        chain = self._chain(major)
        at = len(chain)
        for i, cur in enumerate(chain):  # the chain is kept sorted by (major, baseminor)
            if cur.major < major:
                continue
            if cur.major > major:
                at = i
                break
            if cur.baseminor + cur.minorct <= baseminor:
                continue
            if cur.baseminor >= baseminor + minorct:
                at = i
                break
            return -EBUSY
        region = Region(major, baseminor, minorct, name[:63], owner)
        chain.insert(at, region)
        return region

    @staticmethod
    def check(major: int, baseminor: int, minorct: int, name: str) -> str | None:
        """The pr_err line __register_chrdev_region prints before refusing, or None."""
        if major >= CHRDEV_MAJOR_MAX:
            return (f'CHRDEV "{name}" major requested ({major}) is greater than the maximum '
                    f"({CHRDEV_MAJOR_MAX - 1})")
        if minorct > MINORMASK + 1 - baseminor:
            return (f'CHRDEV "{name}" minor range requested ({baseminor}-'
                    f"{baseminor + minorct - 1}) is out of range of maximum range "
                    f"(0-{MINORMASK}) for a single major")
        return None

    def unregister(self, major: int, baseminor: int, minorct: int) -> Region | None:
        """__unregister_chrdev_region: the first range with exactly these numbers."""
        chain = self._chain(major)
        for i, cur in enumerate(chain):
            if (cur.major, cur.baseminor, cur.minorct) == (major, baseminor, minorct):
                return chain.pop(i)
        return None

    def forget(self, owner) -> None:
        for chain in self._chains.values():
            chain[:] = [r for r in chain if r.owner is not owner]
        self.cdev_map = [e for e in self.cdev_map if e[3] is not owner]
        self.block = [e for e in self.block if e[2] is not owner or owner is None]

    def cdev_at(self, dev: int) -> int:
        """kobj_lookup: the cdev of the smallest range holding dev (the newest of equal
        ones: kobj_map puts a new probe before others of its size), 0 if none."""
        best = None
        for entry in reversed(self.cdev_map):
            start, count = entry[0], entry[1]
            if start <= dev < start + count and (best is None or count < best[1]):
                best = entry
        return best[2] if best else 0

    def regions(self) -> list[Region]:
        return sorted((r for chain in self._chains.values() for r in chain),
                      key=lambda r: r.major)  # stable: chain order within a major

    def proc_devices(self) -> str:
        lines = ["Character devices:\n"]
        lines += [f"{r.major:3d} {r.name}\n" for r in self.regions()]
        lines += ["\n", "Block devices:\n"]
        lines += [f"{major:3d} {name}\n"
                  for major, name, _owner in sorted(self.block, key=lambda e: e[0])]
        return "".join(lines)

    def snapshot(self) -> tuple:
        return tuple((r.major, r.baseminor, r.minorct, r.name) for r in self.regions()) + \
            tuple((major, name) for major, name, _o in sorted(self.block, key=lambda e: e[0]))
