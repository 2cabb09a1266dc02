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
