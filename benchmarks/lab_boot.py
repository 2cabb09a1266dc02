"""Real-kernel lab benchmark: boot-to-result time and initramfs size.

Prints, for the prepared lab (kcourse.lab.prepare; cached under ~/.cache/kcourse/lab/):
- the base initramfs size, uncompressed (what the lab boots) and gzip/zstd-compressed (for
  comparison), and the kernel image size;
- boot-to-result wall seconds (QEMU start to power-off, the script's results parsed) for a
  one-line script and for the hello session of ../shared/notes/real-kernel-lab.md, median of
  N runs (default 3), each guest booted (KCOURSE_LAB_SNAPSHOT=0), then the same two started
  from the saved boot (kcourse.lab.snapshot), as every guest after the first is;
- with --compare: the same one-line boot with a gzip- and a zstd-compressed initramfs, and
  with the bzImage (its own decompressor) instead of the PVH-booted ELF kernel: the reasons
  for the lab's choices.

Run: .venv/bin/python benchmarks/lab_boot.py [--runs N] [--compare]
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import os
import statistics
import tempfile
from pathlib import Path

from kcourse.lab.prepare import prepare
from kcourse.lab.runner import RealKernel

HELLO = ["cat /proc/modules", "insmod hello/hello.ko", "lsmod", "cat /sys/module/hello/refcnt",
         "rmmod hello", "dmesg"]


def boots(kernel: RealKernel, lines: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        kernel.run_script(lines)
        times.append(kernel.last_boot_seconds)
    return times


def line(label: str, times: list[float]) -> str:
    shown = ", ".join(f"{t:.2f}" for t in times)
    return f"{label:<44} median {statistics.median(times):5.2f} s   ({shown})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--compare", action="store_true")
    args = parser.parse_args()

    lab = prepare(progress=lambda step: print(f"  {step}"))
    raw = lab.initrd.read_bytes()
    print(f"release                      {lab.release}")
    print(f"kernel (PVH ELF)             {lab.kernel.stat().st_size / 2**20:6.1f} MiB")
    print(f"initramfs, as booted         {len(raw) / 2**20:6.1f} MiB uncompressed")
    gz = gzip.compress(raw, 9)
    print(f"initramfs, gzip -9           {len(gz) / 2**20:6.1f} MiB")
    try:
        import zstandard

        zst = zstandard.ZstdCompressor(level=19).compress(raw)
        print(f"initramfs, zstd -19          {len(zst) / 2**20:6.1f} MiB")
    except ImportError:
        zst = None
    print(f"Debian modules in the guest  {len(lab.manifest.get('debian_modules', []))}")
    print(f"course modules in the guest  {len(lab.course)}")

    kernel = RealKernel(lab=lab)
    os.environ["KCOURSE_LAB_SNAPSHOT"] = "0"  # the boot itself (also for --compare)
    print(line("boot to result, `true`", boots(kernel, ["true"], args.runs)))
    print(line("boot to result, hello session (6 lines)", boots(kernel, HELLO, args.runs)))
    os.environ["KCOURSE_LAB_SNAPSHOT"] = "1"
    kernel.run_script(["true"])  # saves the boot when there is no snapshot yet
    print(line("saved boot to result, `true`", boots(kernel, ["true"], args.runs)))
    print(line("saved boot to result, hello session", boots(kernel, HELLO, args.runs)))
    os.environ["KCOURSE_LAB_SNAPSHOT"] = "0"

    if args.compare:
        with tempfile.TemporaryDirectory() as tmp:
            variants = {"gzip -9 initramfs": gz}
            if zst is not None:
                variants["zstd -19 initramfs"] = zst
            for label, data in variants.items():
                path = Path(tmp) / "base"
                path.write_bytes(data)
                other = RealKernel(lab=dataclasses.replace(lab, initrd=path))
                print(line(f"boot to result, `true`, {label}", boots(other, ["true"], args.runs)))
            from kcourse.debian import fetch_package

            root = fetch_package(f"linux-image-{lab.release}")
            bzimage = root / "boot" / f"vmlinuz-{lab.release}"
            other = RealKernel(lab=dataclasses.replace(lab, kernel=bzimage))
            print(line("boot to result, `true`, bzImage", boots(other, ["true"], args.runs)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
