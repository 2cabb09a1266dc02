"""Python time of each panel action (click to updated view) with 50 modules loaded.

The kernel first gets 50 of Debian's own 6.1 modules (linux-image-6.1.0-NN-amd64, fetched
once into the XDG cache by kcourse.debian), loaded in modprobe order through
Kernel.load_image; then every button of a ModulePanel, a LeakPanel cycle and an ElfExplorer
file change are timed. Target (issue 6): each action < 50 ms of Python time.
Run: .venv/bin/python benchmarks/panel_speed.py [--modules N] [--repeat R]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

TARGET_MS = 50.0


def debian_images(count: int):
    """`count` ModuleImages from Debian's tree that load into a fresh kernel, in load order."""
    from kcourse.debian import image_modules_dir
    from kcourse.kernel import Kernel, KernelErrno
    from kcourse.kernel.image import parse_image, read_source, signature_status

    root = image_modules_dir("amd64")
    images = {}
    for path in sorted(root.rglob("*.ko*")):
        try:
            source, raw = read_source(path)
            elf_len, status, signer = signature_status(raw)
            img = parse_image(str(path), raw, elf_len, status, signer)
        except Exception:  # noqa: BLE001 - a file the loader model cannot read: skip it
            continue
        images.setdefault(img.name, img)
        if len(images) >= count * 4:
            break
    probe, chosen = Kernel(seed=0), []
    for name in sorted(images):
        if len(chosen) == count:
            break
        img = images[name]
        if any(dep not in {c.name for c in chosen} for dep in img.depends):
            continue
        try:
            probe.load_image(img)
        except KernelErrno:
            continue
        chosen.append(img)
    return chosen


def loaded_kernel(images):
    from kcourse.kernel import Kernel

    kernel = Kernel(seed=0)
    for img in images:
        kernel.load_image(img)
    return kernel


def timed(label: str, fn, repeat: int, results: dict[str, list[float]]) -> None:
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        results.setdefault(label, []).append((time.perf_counter() - t0) * 1000)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--modules", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    from kcourse.ui import ElfExplorer, LeakPanel, ModulePanel

    images = debian_images(args.modules)
    kernel = loaded_kernel(images)
    print(f"kernel: {len(kernel.modules)} modules loaded from Debian's tree")

    results: dict[str, list[float]] = {}
    t0 = time.perf_counter()
    panel = ModulePanel(kernel, "hello")
    print(f"ModulePanel construction: {(time.perf_counter() - t0) * 1000:.1f} ms "
          "(the first panel also imports ipywidgets)")
    click = panel.buttons
    for _ in range(args.repeat):
        timed("insmod", click["insmod"].click, 1, results)
        timed("insmod (refused: File exists)", click["insmod"].click, 1, results)
        timed("rmmod", click["rmmod"].click, 1, results)
        timed("rmmod (refused: not loaded)", click["rmmod"].click, 1, results)
        timed("modprobe", click["modprobe"].click, 1, results)
        timed("modprobe -r", click["modprobe -r"].click, 1, results)
        timed("insmod count=3 (typed field)",
              lambda: (panel.param_fields["count"].__setattr__("value", 3),
                       click["insmod"].click()), 1, results)
        timed("rmmod -f", click["rmmod -f"].click, 1, results)
    panel.module_picker.value = "kcdev"
    for _ in range(args.repeat):
        click["insmod"].click()
        timed("open /dev/kcdev", click["open"].click, 1, results)
        timed("rmmod (refused: in use)", click["rmmod"].click, 1, results)
        timed("close", click["close"].click, 1, results)
        click["rmmod"].click()
    for name in ("hello", "kcdev") * args.repeat:
        timed("pick another module", lambda n=name: setattr(panel.module_picker, "value", n),
              1, results)

    leak = LeakPanel(kernel)
    timed("LeakPanel: one load/unload cycle", leak.buttons["cycle"].click, args.repeat, results)

    elf = ElfExplorer("hello")
    for name in ("provider", "hello") * args.repeat:
        elf.picker.value = name
        timed("ElfExplorer: open a file", elf.open_button.click, 1, results)

    worst = 0.0
    print(f"{'action':40} {'median ms':>10} {'max ms':>8}")
    for label, ms in results.items():
        worst = max(worst, max(ms))
        print(f"{label:40} {statistics.median(ms):10.1f} {max(ms):8.1f}")
    verdict = "OK" if worst < TARGET_MS else "OVER"
    print(f"slowest action: {worst:.1f} ms (target < {TARGET_MS:.0f} ms): {verdict}")
    return 0 if worst < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
