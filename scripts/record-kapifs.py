"""Record tests/data/kapifs/<probe>/real.expected on Debian's real kernel (kcourse.lab).

For each probe folder (its C source and script.sh): build the module against the pinned
headers into a temporary folder, run the script there with `kcourse sim --real --transcript`
(the insmod line names the .ko by its absolute path, which the lab copies into the guest;
the path is written back as the script has it), mask the transcript with
kcourse.lab.compare.normalise and write it with its `#|` provenance lines. One guest at a
time. Never written from the simulator's output.

Run: PYTHONPATH=. python scripts/record-kapifs.py [--dir tests/data/kapidev] [PROBE...]
(the probes of tests/data/kapifs unless --dir names another folder of them)
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PROBES = ROOT / "tests" / "data" / "kapifs"

HEADER = """#| {name}/script.sh on the real kernel: Debian's 6.1.0-56-amd64 booted under QEMU (TCG)
#|   with Debian 12's bash, coreutils, util-linux and kmod 30 (kcourse.lab), recorded by
#|   scripts/record-kapifs.py as `kcourse sim --real --transcript script.sh` run next to
#|   the {name}.ko built from {name}.c, then masked with kcourse.lab.compare.normalise
#|   (addresses, dmesg timestamps). Never written from the simulator's output.
"""


def record(name: str, probes: Path = PROBES) -> None:
    from kcourse.build.cell import build_cell
    from kcourse.lab.compare import normalise

    folder = probes / name
    with tempfile.TemporaryDirectory(prefix="kcourse-kapifs-") as tmp:
        built = build_cell(name, (folder / f"{name}.c").read_text(), base=Path(tmp))
        if not built.ok:
            raise SystemExit(f"{name}: build failed: {built.problem or built.output}")
        ko = built.ko.resolve()
        script = (folder / "script.sh").read_text()
        lines = [f"insmod {ko}" if line == f"insmod {name}.ko" else line
                 for line in script.splitlines()]
        (built.ko.parent / "real.sh").write_text("\n".join(lines) + "\n")
        run = subprocess.run([sys.executable, "-m", "kcourse.cli", "sim", "--real",
                              "--transcript", "real.sh"], cwd=built.ko.parent,
                             capture_output=True, text=True, check=False)
        if not run.stdout:
            raise SystemExit(f"{name}: the lab printed nothing: {run.stderr.strip()}")
        text = normalise(run.stdout.replace(str(ko), f"{name}.ko"))
    (folder / "real.expected").write_text(HEADER.format(name=name) + text)
    print(f"{name}: recorded {len(text.splitlines())} lines")


def main() -> int:
    args, probes = sys.argv[1:], PROBES
    if args[:1] == ["--dir"] and len(args) > 1:
        args, probes = args[2:], Path(args[1]).resolve()
    names = args or sorted(p.name for p in probes.iterdir() if p.is_dir())
    for name in names:
        record(name, probes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
