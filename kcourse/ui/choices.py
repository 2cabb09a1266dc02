"""What a module picker offers: the course modules by name, or any .ko path the learner types."""

from __future__ import annotations

from pathlib import Path

from kcourse.errors import KcourseError
from kcourse.paths import modules_dir


def course_modules() -> list[str]:
    """Names of the course modules that have a built .ko (data/modules/<name>/<name>.ko)."""
    return sorted(p.parent.name for p in modules_dir().glob("*/*.ko") if p.stem == p.parent.name)


def resolve_choice(value: str) -> Path:
    """The .ko file a picker value names: a course module's name, or a path to a file.

    Raises KcourseError (one line) when it names neither.
    """
    value = value.strip()
    if not value:
        raise KcourseError("no module chosen: pick a course module or type a .ko path")
    if "/" not in value and not value.endswith((".ko", ".xz", ".zst", ".gz")):
        path = modules_dir() / value / f"{value}.ko"
        if path.is_file():
            return path
        raise KcourseError(f"{value}: not a course module (known: {', '.join(course_modules())})")
    path = Path(value).expanduser()
    if not path.is_file():
        raise KcourseError(f"{value}: No such file")
    return path
