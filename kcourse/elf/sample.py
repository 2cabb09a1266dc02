"""A small, deterministic, varied sample of a module tree (for differential tests and demos).

Real distribution modules differ in ways that matter to modinfo and objdump: multi-line
parameter descriptions, parameters with only a type or only a description, aliases,
firmware, soft dependencies, imported namespaces, dependencies, versions, odd sizes. This
picks the first few modules (in path order) that show each trait, plus an even spread of
the rest, so the same tree always gives the same sample.
"""

from __future__ import annotations

from pathlib import Path

from kcourse.elf.modinfo_read import read_module
from kcourse.errors import KcourseError


def _traits(strings: list[bytes]) -> set[str]:
    keys = {s.partition(b"=")[0] for s in strings}
    traits = {k.decode("ascii", "replace") for k in keys
              if k in (b"alias", b"firmware", b"softdep", b"import_ns", b"version")}
    parms = {s[5:].partition(b":")[0] for s in strings if s.startswith(b"parm=")}
    types = {s[9:].partition(b":")[0] for s in strings if s.startswith(b"parmtype=")}
    if any(s.startswith(b"parm=") and b"\n" in s for s in strings):
        traits.add("parm-multiline")
    if types - parms:
        traits.add("parm-type-only")
    if parms - types:
        traits.add("parm-desc-only")
    if any(s.startswith(b"depends=") and len(s) > 8 for s in strings):
        traits.add("depends")
    return traits


def diverse_sample(tree: str | Path, per_trait: int = 3, spread: int = 12,
                   extremes: int = 2) -> list[Path]:
    """About 40 module files from `tree`: per_trait for each trait, `spread` evenly spaced,
    the `extremes` smallest and largest. Sorted by path."""
    files = sorted(p for p in Path(tree).rglob("*.ko") if p.is_file())
    if not files:
        return []
    chosen: set[Path] = set()
    counts: dict[str, int] = {}
    for path in files:
        try:
            strings, _sig = read_module(str(path))
        except (KcourseError, OSError):  # a broken file is simply not sampled
            continue
        wanted = [t for t in _traits(strings) if counts.get(t, 0) < per_trait]
        if wanted:
            chosen.add(path)
            for trait in _traits(strings):
                counts[trait] = counts.get(trait, 0) + 1
    by_size = sorted(files, key=lambda p: (p.stat().st_size, str(p)))
    chosen.update(by_size[:extremes] + by_size[-extremes:])
    step = max(len(files) // spread, 1)
    chosen.update(files[::step][:spread])
    return sorted(chosen)
