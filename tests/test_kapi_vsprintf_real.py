"""kcourse.kapi.vsprintf against what Debian's 6.1.0-56-amd64 printed under QEMU.

tests/data/vsprintf/real-6.1.0-56-amd64.txt was recorded by scripts/record_vsprintf_real.py:
the module tests/data/vsprintf/probe.c (generated from tests/vsprintf_real_cases.py) called the
kernel's snprintf() on every case and printed the bytes in hex. Each case is run here through
our vsnprintf() with the same arguments in the same 64-bit slots and must give the same bytes
and the same length (snprintf's return value, which counts what did not fit in 512 bytes).
Hashed pointers are compared by shape, since only that boot's key reproduces them.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from kcourse.kapi.vsprintf import vsnprintf
from tests.vsprintf_helpers import FakeMemory, SlotArgs
from tests.vsprintf_real_cases import CASES, HASHED, case_id

DATA = Path(__file__).parent / "data" / "vsprintf"
RECORDING = DATA / "real-6.1.0-56-amd64.txt"
BUFFER = 512  # vsp_buf in probe.c
HASH = re.compile(rb"00000000[0-9a-f]{8}")
_LINE = re.compile(r"^\[[ \d.]+\] vsp (\S+) (-?\d+) (\d+) ([0-9a-f]*)$")


def recorded() -> dict[str, tuple[int, bytes]]:
    """case id -> (snprintf's return value, the bytes in the buffer)."""
    out: dict[str, tuple[int, bytearray]] = {}
    for line in RECORDING.read_text().splitlines():
        m = _LINE.match(line)
        if m:
            ret, data = out.setdefault(m[1], (int(m[2]), bytearray()))
            assert int(m[3]) == len(data), line
            data += bytes.fromhex(m[4])
    return {k: (ret, bytes(data)) for k, (ret, data) in out.items()}


REAL = recorded()


def ours(fmt: bytes, args: list, **kw) -> bytes:
    memory = FakeMemory()
    slots = [memory.add(a) if isinstance(a, bytes) else a for a in args]
    return vsnprintf(fmt, SlotArgs(*slots, *[0] * (12 - len(slots))), memory, **kw)


def mask_hash(text: bytes) -> bytes:
    """The first %p hash in `text` replaced everywhere (also where a width unpadded it)."""
    value = int(HASH.search(text)[0], 16)
    return text.replace(b"%016x" % value, b"<hash>").replace(b"%x" % value, b"<hash>")


def test_the_recording_has_every_case():
    assert sorted(REAL) == sorted([f"{i:03d}" for i in range(len(CASES))] + ["pv"])


def test_probe_source_is_generated_from_the_cases():
    script = Path(__file__).parent.parent / "scripts" / "record_vsprintf_real.py"
    spec = importlib.util.spec_from_file_location("record_vsprintf_real", script)
    recorder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recorder)
    assert (DATA / "probe.c").read_text() == recorder.probe_source(), \
        "tests/vsprintf_real_cases.py changed: run scripts/record_vsprintf_real.py again"


@pytest.mark.parametrize("index", range(len(CASES)), ids=case_id)
def test_case_prints_what_the_real_kernel_printed(index):
    fmt, args, *marks = CASES[index]
    ret, real = REAL[f"{index:03d}"]
    out = ours(fmt, args, hash_key=0x5EED)
    assert len(out) == ret
    kept = ours(fmt, args, hash_key=0x5EED, size=BUFFER - 1)  # snprintf(buf, 512, ...)
    assert (kept, kept.length) == (out[: BUFFER - 1], ret)
    if HASHED in marks:
        hashes = HASH.findall(real)
        assert hashes and len(set(hashes)) == 1  # one pointer, one hash (also %pK and %pe)
        out, real = mask_hash(out), mask_hash(real)
    assert out[: BUFFER - 1] == real


def test_pv_prints_a_nested_format():
    ret, real = REAL["pv"]
    assert (ret, real) == (12, b"[abc-7-beef]")
    memory = FakeMemory()  # vsp_pv(fmt, ...): one named argument, then "abc", 7, 0xbeef
    fmt, text = memory.add(b"%s-%d-%x\0"), memory.add(b"abc\0")
    regs = memory.add(bytes(8) + (text.to_bytes(8, "little") + (7).to_bytes(8, "little")
                                  + (0xBEEF).to_bytes(8, "little")) + bytes(16))
    va_list = memory.add((8).to_bytes(4, "little") + (48).to_bytes(4, "little")
                         + bytes(8) + regs.to_bytes(8, "little"))
    va_format = memory.add(fmt.to_bytes(8, "little") + va_list.to_bytes(8, "little"))
    assert vsnprintf(b"[%pV]", SlotArgs(va_format), memory) == real


def test_warnings_name_the_line_and_function_the_real_kernel_named():
    text = RECORDING.read_text()
    real = re.findall(r"WARNING: CPU: \d+ PID: \d+ at lib/vsprintf\.c:(\d+) (\w+)\+", text)
    seen = []
    for fmt, args, *_ in CASES:  # WARN_ONCE: only the first of each is printed
        ours(fmt, args, on_warning=lambda w: seen.append(w) if w.line not in
             {s.line for s in seen} else None)
    assert [(str(w.line), w.function) for w in seen] == real
    for w in seen:
        assert f"] {w.message.rstrip()}\n" in text


def test_kptr_restrict_was_0_so_pK_hashes():
    # restricted_pointer() case 0 "Handle as %p": the assumption vsprintf_pointer.py makes
    assert RECORDING.read_text().rstrip().splitlines()[-1] == "0"
