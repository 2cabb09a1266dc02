"""The input core: input_allocate_device, input_register_device, input_event,
input_unregister_device, input_free_device, input_set_capability (drivers/input/input.c, 6.1).

struct input_dev (1384 bytes, the pinned kernel's BTF) is kzalloc'd for the calling module;
its struct device has the input core's type and class ("input"), and its name is input%lu of
a counter that only goes up (input.c:2012): the lab's boot has taken input0 and input1, so
the first device a module allocates is input2, as the guest shows. The module fills in
name, phys, id and the capability bitmaps (evbit, keybit, ...) itself, with set_bit.

input_register_device does what input.c:2394 does: an EV_ABS device without absinfo is
refused (dev_err, -EINVAL); EV_SYN is set, KEY_RESERVED cleared, the bitmaps of types not in
evbit zeroed; hint_events_per_packet and max_vals from input_estimate_events_per_packet;
rep[] 250/33 ms unless the driver set it; default get/setkeycode; device_add
(kcourse.kapi.devcore) under the parent, with the sysfs files name, phys, uniq, modalias,
properties and uevent (input_dev_uevent); and "input: NAME as PATH".

input_event is kcourse.kapi.input_event. Not modelled: the input handlers (kbd, sysrq,
rfkill, leds, mousedev are built into the guest's kernel; evdev and joydev are modules it
does not load) and autorepeat's timer, so events go no further than dev->vals and
dev->repeat_key. A device mousedev or input-leds would connect to (they make files:
/dev/input/mouseN, LED class devices), multitouch (dev->mt), polling (dev->poller) and
force feedback stop with one line.
"""

from __future__ import annotations

from kcourse.kapi import dev_printk, devcore, slab
from kcourse.kapi.registry import function
from kcourse.kapi.vfsfile import limit
from kcourse.kernel import structs as S

INPUT_DEV = S.sizeof("input_dev")
F = {m[0]: m[1] for m in S.members("input_dev")}
DEVICE = F["dev"]
MUTEX_WAIT_LIST = S.offsetof("mutex", "wait_list")
TIMER_FUNCTION = S.offsetof("timer_list", "function")
ID = {"bustype": 0, "vendor": 2, "product": 4, "version": 6}  # struct input_id: 4 u16
EV_SYN, EV_KEY, EV_REL, EV_ABS, EV_MSC, EV_SW = 0x00, 0x01, 0x02, 0x03, 0x04, 0x05
EV_LED, EV_SND, EV_REP, EV_FF, EV_PWR, EV_MAX = 0x11, 0x12, 0x14, 0x15, 0x16, 0x1F
SYN_REPORT, SYN_CONFIG, SYN_MT_REPORT = 0, 1, 2
KEY_MAX, REL_MAX, ABS_MAX, MSC_MAX, SW_MAX = 0x2FF, 0x0F, 0x3F, 0x07, 0x10
LED_MAX, SND_MAX, FF_MAX, REP_MAX, INPUT_PROP_MAX = 0x0F, 0x07, 0x7F, 0x01, 0x1F
KEY_MIN_INTERESTING = 113  # KEY_MUTE (include/uapi/linux/input-event-codes.h)
ABS_MT_SLOT, ABS_MT_FIRST, ABS_MT_LAST = 0x2F, 0x30, 0x3D
ABS_MT_POSITION_X, ABS_MT_TRACKING_ID = 0x35, 0x39
ABSINFO = 24  # struct input_absinfo: value, minimum, maximum, fuzz, flat, resolution (s32)
INPUT_VALUE = 8  # struct input_value: __u16 type, code; __s32 value
IGNORE, PASS_TO_HANDLERS, PASS_TO_DEVICE, SLOT, FLUSH = 0, 1, 2, 4, 8
PASS_TO_ALL = PASS_TO_HANDLERS | PASS_TO_DEVICE
EINVAL = 22
FIRST_INPUT_NO = 2  # input0 (AT Translated Set 2 keyboard) and input1 taken at boot
# The bitmaps: (name in struct input_dev, the type that enables it, its highest code)
BITMAPS = (("keybit", EV_KEY, KEY_MAX), ("relbit", EV_REL, REL_MAX),
           ("absbit", EV_ABS, ABS_MAX), ("mscbit", EV_MSC, MSC_MAX),
           ("ledbit", EV_LED, LED_MAX), ("sndbit", EV_SND, SND_MAX),
           ("ffbit", EV_FF, FF_MAX), ("swbit", EV_SW, SW_MAX))
MAX_CODE = {t: m for _n, t, m in BITMAPS}


class _Input:
    """The input core's own objects in kernel memory, and its counter."""

    def __init__(self, machine):
        self.input_class = machine.kernel_alloc(S.sizeof("class"))
        machine.space.write_u64(self.input_class, machine.kernel_string(b"input\0"))
        self.dev_type = machine.kernel_alloc(48)  # struct device_type input_dev_type
        machine.space.write_u64(self.dev_type, machine.kernel_string(b"input_dev\0"))
        types = devcore.kernel_types(machine)
        types[self.dev_type] = _release
        types[("class", self.input_class)] = "input"
        self.next_no = FIRST_INPUT_NO


def _core(machine) -> _Input:
    core = machine.objects.get("input")
    if core is None:
        core = machine.objects["input"] = _Input(machine)
    return core


# ---------------------------------------------------------------- memory helpers
def _u64(call, at: int) -> int:
    return call.machine.space.read_u64(at)


def _int(call, at: int, size: int = 4, signed: bool = True) -> int:
    return int.from_bytes(call.machine.space.read(at, size), "little", signed=signed)


def _set_int(call, at: int, value: int, size: int = 4) -> None:
    call.machine.space.write(at, (value & ((1 << 8 * size) - 1)).to_bytes(size, "little"))


def _bits(call, dev: int, name: str, top: int) -> int:
    """A bitmap of struct input_dev as one Python int (BITS_TO_LONGS(top + 1) longs)."""
    size = (top // 64 + 1) * 8
    return int.from_bytes(call.machine.space.read(dev + F[name], size), "little")


def _set_bits(call, dev: int, name: str, top: int, value: int) -> None:
    size = (top // 64 + 1) * 8
    call.machine.space.write(dev + F[name], value.to_bytes(size, "little"))


def _text(call, pointer: int) -> str | None:
    if not pointer:
        return None
    return call.machine.space.read_cstring(pointer).decode("utf-8", "surrogateescape")


# ---------------------------------------------------------------- allocate and free
@function("struct input_dev *input_allocate_device(void)", "drivers/input/input.c")
def input_allocate_device(call):
    core = _core(call.machine)
    dev = slab._kmalloc(call, INPUT_DEV, slab.__GFP_ZERO | slab.__GFP_DIRECT_RECLAIM)
    if not dev:
        return 0
    space = call.machine.space
    space.write_u64(dev + DEVICE + devcore.DEV["type"], core.dev_type)
    space.write_u64(dev + DEVICE + devcore.DEV["class"], core.input_class)
    devcore.initialize(call, dev + DEVICE)
    for head in (F["mutex"] + MUTEX_WAIT_LIST, F["h_list"], F["node"]):  # INIT_LIST_HEAD
        space.write_u64(dev + head, dev + head)
        space.write_u64(dev + head + 8, dev + head)
    devcore.set_name(call, dev + DEVICE, f"input{core.next_no}")
    core.next_no += 1
    return dev


def _release(call, device: int) -> None:
    """input_dev_release (input.c:1640): the device's memory and what it allocated."""
    dev = device - DEVICE
    for field in ("ff", "mt", "poller"):
        if _u64(call, dev + F[field]):
            raise limit(f"kcourse: {call.site} releases an input device with {field} set, "
                        "which the simulator does not model")
    slab.kfree(call, dev)  # absinfo and vals are the input core's (kernel memory here)


@function("void input_free_device(struct input_dev *dev)", "drivers/input/input.c")
def input_free_device(call, dev):
    if dev:
        devcore.put(call, dev + DEVICE)  # input_put_device


# ---------------------------------------------------------------- capabilities
@function("void input_set_capability(struct input_dev *dev, unsigned int type, "
          "unsigned int code)", "drivers/input/input.c")
def input_set_capability(call, dev, type_, code):
    bitmap = next((b for b in BITMAPS if b[1] == type_), None)
    if type_ != EV_PWR and (bitmap is None or code > bitmap[2]):
        raise limit(f"kcourse: {call.site} calls input_set_capability with type {type_} "
                    f"code {code}, which the real kernel refuses with a pr_err and a stack "
                    "dump the simulator does not model")
    if type_ == EV_ABS and not _u64(call, dev + F["absinfo"]):  # input_alloc_absinfo
        call.machine.space.write_u64(dev + F["absinfo"],
                                     call.machine.kernel_alloc(ABSINFO * (ABS_MAX + 1)))
    if bitmap is not None:
        name, _type, top = bitmap
        _set_bits(call, dev, name, top, _bits(call, dev, name, top) | 1 << code)
    _set_bits(call, dev, "evbit", EV_MAX, _bits(call, dev, "evbit", EV_MAX) | 1 << type_)


# ---------------------------------------------------------------- register
def _estimate_events_per_packet(call, dev: int) -> int:
    """input_estimate_events_per_packet (input.c:2220)."""
    ev, absbit = _bits(call, dev, "evbit", EV_MAX), _bits(call, dev, "absbit", ABS_MAX)
    absinfo = _u64(call, dev + F["absinfo"])
    if absbit >> ABS_MT_TRACKING_ID & 1:
        at = absinfo + ABSINFO * ABS_MT_TRACKING_ID
        slots = min(max(_int(call, at + 8) - _int(call, at + 4) + 1, 2), 32)
    elif absbit >> ABS_MT_POSITION_X & 1:
        slots = 2
    else:
        slots = 0
    events = slots + 1  # SYN_MT_REPORT and SYN_REPORT
    if ev >> EV_ABS & 1:
        for code in range(ABS_MAX + 1):
            if absbit >> code & 1:
                mt = code == ABS_MT_SLOT or ABS_MT_FIRST <= code <= ABS_MT_LAST
                events += slots if mt else 1
    if ev >> EV_REL & 1:
        events += bin(_bits(call, dev, "relbit", REL_MAX)).count("1")
    return events + 7  # room for KEY and MSC events


def _bitmap_words(value: int, top: int) -> str:
    """input_print_bitmap: the longs from the highest non-zero one down, in hex."""
    words = [value >> 64 * i & (1 << 64) - 1 for i in range(top // 64 + 1)]
    while len(words) > 1 and not words[-1]:
        words.pop()
    return " ".join(f"{w:x}" for w in reversed(words))


def _modalias(call, dev: int) -> str:
    """input_print_modalias (input.c:1390)."""
    ident = {k: _int(call, dev + F["id"] + at, 2, False) for k, at in ID.items()}
    out = ("input:b{bustype:04X}v{vendor:04X}p{product:04X}e{version:04X}-"
           .format(**ident))
    ev = _bits(call, dev, "evbit", EV_MAX)
    parts = [("e", ev, 0, EV_MAX)]
    for letter, name, minimum, top, kind in (
            ("k", "keybit", KEY_MIN_INTERESTING, KEY_MAX, EV_KEY),
            ("r", "relbit", 0, REL_MAX, EV_REL), ("a", "absbit", 0, ABS_MAX, EV_ABS),
            ("m", "mscbit", 0, MSC_MAX, EV_MSC), ("l", "ledbit", 0, LED_MAX, EV_LED),
            ("s", "sndbit", 0, SND_MAX, EV_SND), ("f", "ffbit", 0, FF_MAX, EV_FF),
            ("w", "swbit", 0, SW_MAX, EV_SW)):
        parts.append((letter, _bits(call, dev, name, top) if ev >> kind & 1 else 0,
                      minimum, top))
    for letter, value, minimum, top in parts:
        out += letter + "".join(f"{code:X}," for code in range(minimum, top + 1)
                                if value >> code & 1)
    return out


def _uevent(call, dev: int) -> str:
    """input_dev_uevent (input.c:1590)."""
    ident = [_int(call, dev + F["id"] + at, 2, False) for at in ID.values()]
    lines = ["PRODUCT=" + "/".join(f"{v:x}" for v in ident)]
    for key, field in (("NAME", "name"), ("PHYS", "phys"), ("UNIQ", "uniq")):
        text = _text(call, _u64(call, dev + F[field]))
        if text:
            lines.append(f'{key}="{text}"')
    ev = _bits(call, dev, "evbit", EV_MAX)
    lines.append("PROP=" + _bitmap_words(_bits(call, dev, "propbit", INPUT_PROP_MAX),
                                         INPUT_PROP_MAX))
    lines.append("EV=" + _bitmap_words(ev, EV_MAX))
    for key, name, kind, top in (("KEY", "keybit", EV_KEY, KEY_MAX),
                                 ("REL", "relbit", EV_REL, REL_MAX),
                                 ("ABS", "absbit", EV_ABS, ABS_MAX),
                                 ("MSC", "mscbit", EV_MSC, MSC_MAX),
                                 ("LED", "ledbit", EV_LED, LED_MAX),
                                 ("SND", "sndbit", EV_SND, SND_MAX),
                                 ("FF", "ffbit", EV_FF, FF_MAX),
                                 ("SW", "swbit", EV_SW, SW_MAX)):
        if ev >> kind & 1:
            lines.append(f"{key}=" + _bitmap_words(_bits(call, dev, name, top), top))
    lines.append("MODALIAS=" + _modalias(call, dev))
    return "".join(line + "\n" for line in lines)


def _files(call, dev: int) -> dict:
    """input_dev_attrs: name, phys, uniq, modalias, properties (input.c:1420-1470)."""
    def show(field):
        return lambda: (_text(call, _u64(call, dev + F[field])) or "") + "\n"

    return {"name": show("name"), "phys": show("phys"), "uniq": show("uniq"),
            "modalias": lambda: _modalias(call, dev) + "\n",
            "properties": lambda: _bitmap_words(
                _bits(call, dev, "propbit", INPUT_PROP_MAX), INPUT_PROP_MAX) + "\n"}


BTN_LEFT, BTN_TOOL_FINGER, BTN_TOUCH = 0x110, 0x145, 0x14A
REL_X, REL_Y, REL_WHEEL = 0x00, 0x01, 0x08
ABS_X, ABS_Y, ABS_PRESSURE, ABS_TOOL_WIDTH = 0x00, 0x01, 0x18, 0x1C
# mousedev_ids (drivers/input/mousedev.c): (evbit, keybit, relbit, absbit) each must hold
MOUSEDEV_IDS = (
    (1 << EV_KEY | 1 << EV_REL, 1 << BTN_LEFT, 1 << REL_X | 1 << REL_Y, 0),
    (1 << EV_KEY | 1 << EV_REL, 0, 1 << REL_WHEEL, 0),
    (1 << EV_KEY | 1 << EV_ABS, 1 << BTN_TOUCH, 0, 1 << ABS_X | 1 << ABS_Y),
    (1 << EV_KEY | 1 << EV_ABS, 1 << BTN_TOOL_FINGER, 0,
     1 << ABS_X | 1 << ABS_Y | 1 << ABS_PRESSURE | 1 << ABS_TOOL_WIDTH),
    (1 << EV_KEY | 1 << EV_ABS, 1 << BTN_LEFT, 0, 1 << ABS_X | 1 << ABS_Y))


def _visible_handler(call, dev: int) -> str | None:
    """Of the guest's built-in handlers, those that would make files for this device
    (input_attach_handler, input_match_device): mousedev's /dev/input/mouseN, input-leds'
    LED class devices (drivers/input/input-leds.c: EV_LED and at least one LED). kbd,
    sysrq and rfkill's handlers connect without making any."""
    have = [_bits(call, dev, name, top) for name, top in
            (("evbit", EV_MAX), ("keybit", KEY_MAX), ("relbit", REL_MAX),
             ("absbit", ABS_MAX))]
    for wanted in MOUSEDEV_IDS:
        if all(w & h == w for w, h in zip(wanted, have, strict=True)):
            return "mousedev handler would connect to (a /dev/input/mouseN)"
    if have[0] >> EV_LED & 1 and _bits(call, dev, "ledbit", LED_MAX):
        return "input-leds handler would connect to (LED class devices)"
    return None


def _dev_err(call, dev: int, message: str) -> None:
    device = dev + DEVICE
    call.kernel.log.printk(f"\0013{dev_printk.driver_string(call, device)} "
                           f"{dev_printk.device_name(call, device)}: {message}\n")


@function("int input_register_device(struct input_dev *dev)", "drivers/input/input.c")
def input_register_device(call, dev):
    machine = call.machine
    ev = _bits(call, dev, "evbit", EV_MAX)
    if ev >> EV_ABS & 1 and not _u64(call, dev + F["absinfo"]):
        _dev_err(call, dev, "Absolute device without dev->absinfo, refusing to register")
        return -EINVAL
    if _int(call, dev + F["devres_managed"], 1):
        raise limit(f"kcourse: {call.site} registers a managed input device, which the "
                    "simulator does not model")
    for field in ("poller", "mt", "ff"):
        if _u64(call, dev + F[field]):
            raise limit(f"kcourse: {call.site} registers an input device with {field} set, "
                        "which the simulator does not model")
    ev |= 1 << EV_SYN
    _set_bits(call, dev, "evbit", EV_MAX, ev)
    _set_bits(call, dev, "keybit", KEY_MAX, _bits(call, dev, "keybit", KEY_MAX) & ~1)
    for name, kind, top in BITMAPS:  # input_cleanse_bitmasks
        if not ev >> kind & 1:
            _set_bits(call, dev, name, top, 0)
    handler = _visible_handler(call, dev)
    if handler:
        raise limit(f"kcourse: {call.site} registers an input device that the guest's "
                    f"{handler}, which the simulator does not model")
    packet = _estimate_events_per_packet(call, dev)
    if _int(call, dev + F["hint_events_per_packet"], 4, False) < packet:
        _set_int(call, dev + F["hint_events_per_packet"], packet)
    max_vals = _int(call, dev + F["hint_events_per_packet"], 4, False) + 2
    _set_int(call, dev + F["max_vals"], max_vals)
    machine.space.write_u64(dev + F["vals"], machine.kernel_alloc(max_vals * INPUT_VALUE))
    if not _int(call, dev + F["rep"]) and not _int(call, dev + F["rep"] + 4):
        _set_int(call, dev + F["rep"], 250)  # input_enable_softrepeat(dev, 250, 33)
        _set_int(call, dev + F["rep"] + 4, 33)
        machine.space.write_u64(dev + F["timer"] + TIMER_FUNCTION,
                                machine.address_of("input_repeat_key"))
    for field in ("getkeycode", "setkeycode"):
        if not _u64(call, dev + F[field]):
            machine.space.write_u64(dev + F[field],
                                    machine.address_of(f"input_default_{field}"))
    error = devcore.add(call, dev + DEVICE, uevent=lambda: _uevent(call, dev),
                        files=_files(call, dev))
    if error:
        machine.space.write_u64(dev + F["vals"], 0)
        return error
    name = _text(call, _u64(call, dev + F["name"])) or "Unspecified device"
    call.kernel.log.printk(f"\0016input: {name} as {devcore.kobject_path(call, dev + DEVICE)}\n")
    return 0


@function("void input_unregister_device(struct input_dev *dev)", "drivers/input/input.c")
def input_unregister_device(call, dev):
    if _int(call, dev + F["devres_managed"], 1):
        raise limit(f"kcourse: {call.site} unregisters a managed input device, which the "
                    "simulator does not model")
    for head in (F["node"],):  # list_del_init(&dev->node)
        call.machine.space.write_u64(dev + head, dev + head)
        call.machine.space.write_u64(dev + head + 8, dev + head)
    devcore.delete(call, dev + DEVICE)  # __input_unregister_device: device_del
    devcore.put(call, dev + DEVICE)  # input_put_device
