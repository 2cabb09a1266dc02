"""Where kcourse finds its data and keeps its cache.

`data/` sits at the top of a checkout and is shipped inside the package as `kcourse/data`
(a symlink in the checkout), so both layouts resolve here. The cache follows XDG:
$XDG_CACHE_HOME/kcourse (default ~/.cache/kcourse); per-learner state goes to
$XDG_DATA_HOME/kcourse (default ~/.local/share/kcourse). Nothing is written anywhere else.
"""

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def data_dir() -> Path:
    override = os.environ.get("KCOURSE_DATA")
    if override:
        return Path(override)
    return (PACKAGE_DIR / "data").resolve()


def modules_dir() -> Path:
    """data/modules: one folder per course module (C source, Kbuild, built .ko)."""
    return data_dir() / "modules"


def kernel_data_dir() -> Path:
    """data/kernel: the symbol table and facts of the kernel the simulator imitates."""
    return data_dir() / "kernel"


def course_module(name: str) -> Path:
    """Path of a course module's built .ko, e.g. course_module('hello')."""
    return modules_dir() / name / f"{name}.ko"


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    path = Path(base) / "kcourse"
    path.mkdir(parents=True, exist_ok=True)
    return path


def state_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    path = Path(base) / "kcourse"
    path.mkdir(parents=True, exist_ok=True)
    return path


def notebooks_dir() -> Path:
    return PACKAGE_DIR.parent / "notebooks"
