"""environment.yml (conda/Binder) and pyproject.toml (pip) name the same dependencies."""

import re
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[1]


def _names(requirements):
    return {re.split(r"[<>=!~ \[]", r.strip(), maxsplit=1)[0].lower() for r in requirements}


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_side = _names(project["dependencies"]) | _names(project["optional-dependencies"]["test"])
    conda_side = set()
    text = (ROOT / "environment.yml").read_text()
    deps = text.split("dependencies:", 1)[1]
    for line in deps.splitlines():
        m = re.match(r"\s*-\s+([A-Za-z0-9_.-]+)", line)
        if m and m.group(1) not in ("python", "pip", "-e"):
            conda_side.add(m.group(1).lower())
    assert pip_side == conda_side


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "./run test" in readme and "./run lab" in readme
    assert "./run test" in ci


def test_data_is_shipped_inside_the_package():
    link = ROOT / "kcourse" / "data"
    assert link.resolve() == (ROOT / "data").resolve()


def test_wheel_ships_the_data_folder(tmp_path):
    """An installed kcourse finds its modules and kernel data (design.md: data/ is shipped)."""
    import subprocess
    import sys
    import zipfile

    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
         "-w", str(tmp_path), str(ROOT)],
        check=True, capture_output=True,
    )
    (wheel,) = tmp_path.glob("kcourse-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "kcourse/data/kernel/Module.symvers.xz" in names
    assert "kcourse/data/modules/hello/hello.ko" in names
    assert "kcourse/data/modules/hello/.hello.mod.o.cmd" in names  # dotfiles too
