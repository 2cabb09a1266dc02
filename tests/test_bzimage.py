"""kcourse.build.bzimage / payload on built images: every compression method, bad input, CLI.

The images are laid out by the rules of Documentation/x86/boot.rst (6.1): setup_sects at
0x1F1, boot_flag 0xAA55 at 0x1FE, "HdrS" at 0x202, version at 0x206, kernel_version at 0x20E
(pointer less 0x200), loadflags at 0x211, payload_offset/length at 0x248/0x24C measured from
(setup_sects+1)*512. Payloads are made by the real compressors with the kernel's flags
(scripts/Makefile.lib, scripts/xz_wrap.sh), so the expected method is the tool that made it.
"""

import bz2
import gzip
import lzma
import shutil
import struct
import subprocess

import pytest

from kcourse.build import payload
from kcourse.build.bzimage import main, parse_elf_header, read_bzimage
from kcourse.cli import main as cli_main
from kcourse.errors import KcourseError
from kcourse.paths import course_module

KERNEL_FLAGS = {   # scripts/Makefile.lib cmd_<method> (6.1); xz: scripts/xz_wrap.sh
    "gzip": ["gzip", "-n", "-f", "-9"],
    "bzip2": ["bzip2", "-9"],
    "lzma": ["lzma", "-9"],
    "xz": ["xz", "--check=crc32", "--x86", "--lzma2=,dict=32MiB"],
    "lzo": ["lzop", "-9"],
    "lz4": ["lz4", "-l", "-c1"],
    "zstd": ["zstd", "-22", "--ultra"],
}
PY_FALLBACK = {
    "gzip": lambda d: gzip.compress(d, 9, mtime=0),
    "bzip2": lambda d: bz2.compress(d, 9),
    "lzma": lambda d: lzma.compress(d, format=lzma.FORMAT_ALONE),
    "xz": lambda d: lzma.compress(d, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32),
    "zstd": lambda d: __import__("zstandard").ZstdCompressor(level=19).compress(d),
}


def compress(method, data):
    tool = KERNEL_FLAGS[method]
    if shutil.which(tool[0]):
        return subprocess.run(tool, input=data, capture_output=True, check=True).stdout
    if method in PY_FALLBACK:
        return PY_FALLBACK[method](data)
    pytest.skip(f"{tool[0]} is not installed")


def make_image(comp: bytes, uncompressed_size: int, setup_sects=4, version=0x020F,
               loadflags=0x01, text=b"5.1.9-ded (me@here) #1 SMP", payload_offset=0x100):
    """A minimal bzImage by the boot.rst rules (setup_sects 0 means 4)."""
    pm = ((setup_sects or 4) + 1) * 512
    data = bytearray(pm + payload_offset)
    data[0:2] = b"MZ"
    data[0x1F1] = setup_sects
    struct.pack_into("<H", data, 0x1FE, 0xAA55)
    data[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", data, 0x206, version)
    struct.pack_into("<H", data, 0x20E, 0x400 - 0x200)     # string at 0x400
    data[0x400:0x400 + len(text) + 1] = text + b"\0"
    data[0x211] = loadflags
    body = comp + struct.pack("<I", uncompressed_size)        # size_append
    struct.pack_into("<II", data, 0x248, payload_offset, len(body))
    return bytes(data) + body


@pytest.fixture(scope="module")
def kernel_bytes():
    return course_module("hello").read_bytes()   # any 64-bit ELF stands in for vmlinux.bin


@pytest.mark.parametrize("method", sorted(KERNEL_FLAGS))
def test_each_method(method, kernel_bytes):
    comp = compress(method, kernel_bytes)
    image = read_bzimage(make_image(comp, len(kernel_bytes)))
    assert image.compression == method
    assert image.uncompressed_size == len(kernel_bytes)
    if method == "lzo":
        with pytest.raises(KcourseError, match="no LZO"):
            image.decompress()
        return
    result = image.decompress()
    assert result.data == kernel_bytes
    assert parse_elf_header(result.data).e_machine == 62


def test_header_fields():
    data = make_image(gzip.compress(b"\x7fELF" + bytes(60)), 64, setup_sects=0)
    h = read_bzimage(data).header
    assert h.setup_sects_raw == 0 and h.setup_sects == 4 and h.pm_offset == 5 * 512
    assert h.kernel_version == "5.1.9-ded (me@here) #1 SMP"
    assert h.protocol == "2.15"


@pytest.mark.parametrize("data, message", [
    (b"", "only 0 bytes"),
    (bytes(4096), "no 'HdrS'"),
    (b"\x7fELF" + bytes(4096), "no 'HdrS'"),
    (make_image(b"\x1f\x8b" + bytes(20), 1, version=0x0207), "older than 2.08"),
    (make_image(b"\x1f\x8b" + bytes(20), 1, loadflags=0), "zImage"),
    (make_image(b"\x1f\x8b" + bytes(20), 1)[:-10], "outside"),
])
def test_bad_input(data, message):
    with pytest.raises(KcourseError, match=message):
        read_bzimage(data)


def test_bad_boot_flag():
    data = bytearray(make_image(b"\x1f\x8b" + bytes(20), 1))
    data[0x1FE:0x200] = b"\0\0"
    with pytest.raises(KcourseError, match="boot_flag"):
        read_bzimage(bytes(data))


@pytest.mark.parametrize("method", ["gzip", "xz", "zstd", "bzip2"])
def test_corrupt_payload(method, kernel_bytes):
    comp = bytearray(compress(method, kernel_bytes))
    comp[len(comp) // 2: len(comp) // 2 + 64] = bytes(64)
    with pytest.raises(KcourseError, match="does not decompress"):
        read_bzimage(make_image(bytes(comp), len(kernel_bytes))).decompress()


def test_unknown_payload():
    with pytest.raises(KcourseError, match="unknown payload"):
        read_bzimage(make_image(b"\x00\x01" + bytes(30), 1)).decompress()


def test_cli(tmp_path, capsys, kernel_bytes):
    image = tmp_path / "vmlinuz"
    image.write_bytes(make_image(compress("xz", kernel_bytes), len(kernel_bytes)))
    assert main([str(image)]) == 0
    out = capsys.readouterr().out
    assert "compression     xz" in out and "ELF 64-bit LSB relocatable, x86-64" in out
    assert cli_main(["bzimage", str(tmp_path / "missing")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot read" in err
    assert cli_main(["bzimage", str(course_module("hello"))]) == 1
    assert "no 'HdrS'" in capsys.readouterr().err
    assert cli_main(["bzimage", "--bogus"]) == 1
    assert cli_main(["bzimage"]) == 1


@pytest.mark.parametrize("method", ["gzip", "bzip2", "xz", "zstd", "lz4"])
def test_a_decompression_bomb_is_refused_with_bounded_memory(method, monkeypatch):
    """A payload that expands past the cap is one clear error, not an unbounded read."""
    bomb = compress(method, b"\0" * (3 << 20))           # 3 MiB of zeros, a few KiB packed
    monkeypatch.setattr(payload, "MAX_OUTPUT", 1 << 20)  # cap at 1 MiB for the test
    image = read_bzimage(make_image(bomb, 3 << 20))
    with pytest.raises(KcourseError, match="expands past 1 MiB"):
        image.decompress()
