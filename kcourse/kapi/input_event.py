"""input_event (drivers/input/input.c, 6.1): the device's state and dev->vals.

input_get_disposition filters each event by the device's capabilities and updates its state
(key, LED, sound and switch bits, rep[], absolute values with their fuzz); the driver's
->event gets what goes to the device, and dev->vals buffers the rest until SYN_REPORT,
when input_pass_values hands the packet to the handlers, none of which is modelled
(kcourse.kapi.input): what remains is autorepeat's bookkeeping, dev->repeat_key.
"""

from __future__ import annotations

from kcourse.kapi.input import (
    ABS_MAX,
    ABS_MT_FIRST,
    ABS_MT_LAST,
    ABS_MT_SLOT,
    ABSINFO,
    EV_ABS,
    EV_FF,
    EV_KEY,
    EV_LED,
    EV_MAX,
    EV_MSC,
    EV_PWR,
    EV_REL,
    EV_REP,
    EV_SND,
    EV_SW,
    EV_SYN,
    FLUSH,
    IGNORE,
    INPUT_VALUE,
    KEY_MAX,
    LED_MAX,
    MSC_MAX,
    PASS_TO_ALL,
    PASS_TO_DEVICE,
    PASS_TO_HANDLERS,
    REL_MAX,
    REP_MAX,
    SND_MAX,
    SW_MAX,
    SYN_CONFIG,
    SYN_MT_REPORT,
    SYN_REPORT,
    TIMER_FUNCTION,
    F,
    _bits,
    _int,
    _set_bits,
    _set_int,
    _u64,
)
from kcourse.kapi.registry import function
from kcourse.kapi.vfsfile import limit


def _toggle(call, dev: int, state: str, top: int, code: int, value: int) -> bool:
    """`!!test_bit(code, dev->state) != !!value`: __change_bit, and say so."""
    bits = _bits(call, dev, state, top)
    if bool(bits >> code & 1) == bool(value):
        return False
    _set_bits(call, dev, state, top, bits ^ 1 << code)
    return True


def _supported(call, dev: int, bitmap: str, top: int, code: int) -> bool:
    """is_event_supported: code <= max && test_bit(code, bm)."""
    return code <= top and bool(_bits(call, dev, bitmap, top) >> code & 1)


def _defuzz(value: int, old: int, fuzz: int) -> int:
    """input_defuzz_abs_event (input.c:55)."""
    if fuzz:
        if old - fuzz // 2 < value < old + fuzz // 2:
            return old
        if old - fuzz < value < old + fuzz:
            return (old * 3 + value) // 4
        if old - fuzz * 2 < value < old + fuzz * 2:
            return (old + value) // 2
    return value


def _disposition(call, dev: int, type_: int, code: int, value: int) -> tuple[int, int]:
    """input_get_disposition (input.c:237): what to do with the event, and its value."""
    if _int(call, dev + F["inhibited"], 1):
        return IGNORE, value
    if type_ == EV_SYN:
        return {SYN_CONFIG: PASS_TO_ALL, SYN_REPORT: PASS_TO_HANDLERS | FLUSH,
                SYN_MT_REPORT: PASS_TO_HANDLERS}.get(code, IGNORE), value
    if type_ == EV_KEY:
        if not _supported(call, dev, "keybit", KEY_MAX, code):
            return IGNORE, value
        if value == 2:
            return PASS_TO_HANDLERS, value  # auto-repeat bypasses state updates
        return (PASS_TO_HANDLERS if _toggle(call, dev, "key", KEY_MAX, code, value)
                else IGNORE), value
    if type_ == EV_SW:
        ok = _supported(call, dev, "swbit", SW_MAX, code) and \
            _toggle(call, dev, "sw", SW_MAX, code, value)
        return (PASS_TO_HANDLERS if ok else IGNORE), value
    if type_ == EV_ABS:
        if not _supported(call, dev, "absbit", ABS_MAX, code):
            return IGNORE, value
        if code == ABS_MT_SLOT or ABS_MT_FIRST <= code <= ABS_MT_LAST:
            raise limit(f"kcourse: {call.site} reports a multitouch event, which the "
                        "simulator does not model")
        at = _u64(call, dev + F["absinfo"]) + ABSINFO * code
        old = _int(call, at)
        value = _defuzz(value, old, _int(call, at + 12))
        if value == old:
            return IGNORE, value
        _set_int(call, at, value)
        return PASS_TO_HANDLERS, value
    if type_ == EV_REL:
        ok = _supported(call, dev, "relbit", REL_MAX, code) and value
        return (PASS_TO_HANDLERS if ok else IGNORE), value
    if type_ == EV_MSC:
        return (PASS_TO_ALL if _supported(call, dev, "mscbit", MSC_MAX, code)
                else IGNORE), value
    if type_ == EV_LED:
        ok = _supported(call, dev, "ledbit", LED_MAX, code) and \
            _toggle(call, dev, "led", LED_MAX, code, value)
        return (PASS_TO_ALL if ok else IGNORE), value
    if type_ == EV_SND:
        if not _supported(call, dev, "sndbit", SND_MAX, code):
            return IGNORE, value
        _toggle(call, dev, "snd", SND_MAX, code, value)
        return PASS_TO_ALL, value
    if type_ == EV_REP:
        at = dev + F["rep"] + 4 * code
        if code <= REP_MAX and value >= 0 and _int(call, at) != value:
            _set_int(call, at, value)
            return PASS_TO_ALL, value
        return IGNORE, value
    if type_ == EV_FF:
        return (PASS_TO_ALL if value >= 0 else IGNORE), value
    return (PASS_TO_ALL if type_ == EV_PWR else IGNORE), value


def _dispose(call, dev: int, disposition: int, type_: int, code: int, value: int) -> None:
    """input_event_dispose (input.c:340): the driver's ->event, then dev->vals."""
    event = _u64(call, dev + F["event"])
    if disposition & PASS_TO_DEVICE and event:
        call.machine.call(event, dev, type_, code, value & 0xFFFF_FFFF)
    vals = _u64(call, dev + F["vals"])
    if not vals:
        return
    count = _int(call, dev + F["num_vals"], 4, False)
    max_vals = _int(call, dev + F["max_vals"], 4, False)
    if disposition & PASS_TO_HANDLERS:
        call.machine.space.write(vals + INPUT_VALUE * count, type_.to_bytes(2, "little") +
                                 code.to_bytes(2, "little") +
                                 (value & 0xFFFF_FFFF).to_bytes(4, "little"))
        count += 1
    if disposition & FLUSH:
        if count >= 2:
            _pass_values(call, dev, vals, count)
        count = 0
        call.machine.space.write(dev + F["timestamp"], bytes(8))  # INPUT_CLK_MONO
    elif count >= max_vals - 2:
        call.machine.space.write(vals + INPUT_VALUE * count,
                                 bytes(2) + SYN_REPORT.to_bytes(2, "little") +
                                 (1).to_bytes(4, "little"))  # input_value_sync
        _pass_values(call, dev, vals, count + 1)
        count = 0
    _set_int(call, dev + F["num_vals"], count)


def _pass_values(call, dev: int, vals: int, count: int) -> None:
    """input_pass_values: no handler is modelled (module docstring); what is left is the
    autorepeat bookkeeping: the key now held down (input_start/stop_autorepeat)."""
    ev = _bits(call, dev, "evbit", EV_MAX)
    if not (ev >> EV_REP & 1 and ev >> EV_KEY & 1):
        return
    for i in range(count):
        raw = call.machine.space.read(vals + INPUT_VALUE * i, INPUT_VALUE)
        kind, code = int.from_bytes(raw[:2], "little"), int.from_bytes(raw[2:4], "little")
        value = int.from_bytes(raw[4:], "little", signed=True)
        if kind == EV_KEY and value != 2:
            if value and _int(call, dev + F["rep"]) and _int(call, dev + F["rep"] + 4) \
                    and _u64(call, dev + F["timer"] + TIMER_FUNCTION):
                _set_int(call, dev + F["repeat_key"], code)


@function("void input_event(struct input_dev *dev, unsigned int type, unsigned int code, "
          "int value)", "drivers/input/input.c")
def input_event(call, dev, type_, code, value):
    if not _supported(call, dev, "evbit", EV_MAX, type_):
        return
    disposition, value = _disposition(call, dev, type_, code, value)
    if disposition != IGNORE:
        _dispose(call, dev, disposition, type_, code, value)
