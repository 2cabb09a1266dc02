"""kcourse.build.bzimage on Debian's real kernel images.

References: the image's own config (boot/config-<release>: CONFIG_KERNEL_<method>=y), the
release apt reports, readelf -h on the decompressed vmlinux, `file` (when installed), the
rules of Documentation/x86/boot.rst and the measured facts in shared/notes/kernel-facts.md §10.
"""

import re
import shutil
import subprocess

import pytest

from kcourse.build import realimage
from kcourse.build.bzimage import main, parse_elf_header, read_bzimage
from tests.conftest import need, need_tool

CONFIG_TO_METHOD = {"GZIP": "gzip", "BZIP2": "bzip2", "LZMA": "lzma", "XZ": "xz", "LZO": "lzo",
                    "LZ4": "lz4", "ZSTD": "zstd"}


def _image(flavour):
    from kcourse import pin
    from kcourse.debian import DebianUnavailable, fetch_package

    release = pin.release(flavour)
    try:
        root = fetch_package(pin.image_package(flavour))
    except DebianUnavailable as err:
        need(False, f"Debian's linux-image-{flavour} is unavailable: {err}")
    return release, root / "boot" / f"vmlinuz-{release}", root / "boot" / f"config-{release}"


@pytest.fixture(scope="module", params=["cloud-amd64", "amd64"])
def real(request):
    return _image(request.param)


def _readelf_h(tmp_path, data):
    need_tool("readelf")
    elf = tmp_path / "vmlinux.bin"
    elf.write_bytes(data)
    out = subprocess.run(["readelf", "-h", str(elf)], capture_output=True, text=True).stdout
    field = lambda name: re.search(rf"^\s*{name}:\s+(\S+)", out, re.M).group(1)  # noqa: E731
    return {"entry": int(field("Entry point address"), 16),
            "phnum": int(field("Number of program headers")),
            "shnum": int(field("Number of section headers")),
            "shoff": int(field("Start of section headers")),
            "type": field("Type"), "machine": out.split("Machine:")[1].split("\n")[0].strip()}


def test_header_follows_the_boot_protocol(real):
    release, path, config = real
    image = read_bzimage(path)
    h = image.header
    assert h.header == b"HdrS" and h.boot_flag == 0xAA55
    assert h.version >= 0x0208 and h.is_bzimage
    assert h.kernel_version.split()[0] == release          # UTS_RELEASE comes first
    assert h.pm_offset == (h.setup_sects + 1) * 512
    assert image.payload_file_offset + h.payload_length <= image.size
    # the method the kernel was configured with
    method = [CONFIG_TO_METHOD[m] for m in CONFIG_TO_METHOD
              if re.search(rf"^CONFIG_KERNEL_{m}=y$", config.read_text(), re.M)]
    assert [image.compression] == method


def test_payload_is_the_elf_vmlinux(real, tmp_path):
    release, path, _ = real
    image = read_bzimage(path)
    result = image.decompress()
    facts = parse_elf_header(result.data)
    ref = _readelf_h(tmp_path, result.data)
    assert ref["type"] == "EXEC" and ref["machine"] == "Advanced Micro Devices X86-64"
    assert (facts.e_type, facts.e_machine) == (2, 62)
    assert (facts.entry, facts.phnum, facts.shnum, facts.shoff) == (
        ref["entry"], ref["phnum"], ref["shnum"], ref["shoff"])
    # scripts/Makefile.lib size_append: the u32 after the data is the decompressed size
    assert len(result.data) == image.uncompressed_size
    assert facts.file_size < len(result.data)      # vmlinux.bin, then vmlinux.relocs


def test_file_agrees(real):
    release, path, _ = real
    if shutil.which("file") is None:
        pytest.skip("file(1) is not installed (the other tests check the same fields)")
    out = subprocess.run(["file", "-b", str(path)], capture_output=True, text=True).stdout
    image = read_bzimage(path)
    assert out.startswith("Linux kernel x86 boot executable bzImage")
    assert f"version {image.header.kernel_version}," in out


def test_amd64_matches_the_fact_sheet():
    """kernel-facts.md §10 measured vmlinuz-6.1.0-56-amd64 (the -unsigned package)."""
    release, path, _ = _image("amd64")
    h = read_bzimage(path).header
    assert (h.setup_sects, h.version, h.loadflags) == (39, 0x020F, 0x01)
    if release == "6.1.0-56-amd64":  # the release kernel-facts.md measured: kept on a move
        assert (h.kernel_version_ptr, h.payload_offset, h.payload_length) == (
            0x42C0, 0x2CC, 0x7BF070)
        assert read_bzimage(path).payload[:6].hex() == "fd377a585a00"


def test_committed_snapshot_is_the_real_image():
    """data/build/bzimage-amd64.json (the lesson's offline copy) equals a fresh reading."""
    fixture = realimage.load_fixture()
    release, path, _ = _image("amd64")
    if release != fixture["release"]:
        pytest.skip(f"snapshot is of {fixture['release']}, apt now offers {release}: "
                    "regenerate with python -m kcourse.build.realimage")
    assert realimage.snapshot(read_bzimage(path), release) == fixture
    assert realimage.lesson_lines() == fixture["describe"]


def test_cli_on_real_image(real, capsys):
    _, path, _ = real
    assert main(["--no-decompress", str(path)]) == 0
    out = capsys.readouterr().out
    assert "HdrS at 0x202" in out and "vmlinux" not in out
