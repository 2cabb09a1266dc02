"""The learner's own copy of the lessons: answer cells blank, and never overwritten once edited.

`kcourse lab` (and `./run lab`) opens JupyterLab on this folder, not on the repository's
notebooks/: those hold the worked answers (nbval tests them) and `git pull` changes them. Each
lesson is copied as a student copy (kcourse.instructor: the code between `### BEGIN SOLUTION`
and `### END SOLUTION` becomes `answer = ...`, outputs are cleared); `ex.solution()` still
shows a worked answer on request.

The folder is $XDG_DATA_HOME/kcourse/lessons (~/.local/share/kcourse/lessons), or the one
`--work DIR` (or $KCOURSE_WORK) names. A manifest in it, `.kcourse-lessons.json`, holds the
sha256 of each lesson as kcourse last wrote it. Each later start compares:
- a lesson the course has and the folder does not (new, or deleted by the learner): written;
- a lesson whose file is as kcourse wrote it: replaced when the course's version changed;
- a lesson the learner changed (saving it in JupyterLab counts): kept, and said so, with the
  course's current version beside it as NAME.course.ipynb for comparison.
Nothing else in the folder is touched (the learner's kmodules/, their own notebooks).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from kcourse.errors import KcourseError

MANIFEST = ".kcourse-lessons.json"
COURSE_SUFFIX = ".course.ipynb"


def default_folder() -> Path:
    explicit = os.environ.get("KCOURSE_WORK")
    if explicit:
        return Path(explicit).expanduser()
    from kcourse.paths import state_dir

    return state_dir() / "lessons"


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _student_bytes(lesson: Path) -> bytes:
    import nbformat

    from kcourse.instructor import _student_version

    return (nbformat.writes(_student_version(lesson)) + "\n").encode()


def _read_manifest(folder: Path) -> dict[str, str]:
    path = folder / MANIFEST
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        raise KcourseError(f"{path}: not a kcourse manifest (delete it to start the folder "
                           "afresh; your lessons stay)") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise KcourseError(f"{path}: not a kcourse manifest (delete it to start the folder "
                           "afresh; your lessons stay)")
    return data


def prepare(folder: Path | None = None, lessons: list[Path] | None = None
            ) -> list[tuple[str, str]]:
    """Bring the working copy in `folder` up to date; [(lesson file, what happened)], where
    what happened is "added", "updated", "unchanged" or "kept: you changed it ...".

    Every student copy is prepared before anything is written, so a broken lesson or a
    folder that cannot be made leaves the disk as it was."""
    from kcourse.paths import notebooks_dir

    folder = Path(folder) if folder is not None else default_folder()
    lessons = lessons if lessons is not None else sorted(notebooks_dir().glob("[0-9]*.ipynb"))
    if folder.exists() and not folder.is_dir():
        raise KcourseError(f"{folder}: exists and is not a folder")
    manifest = _read_manifest(folder) if folder.is_dir() else {}
    fresh = {lesson.name: _student_bytes(lesson) for lesson in lessons}
    report, writes = [], {}
    for name, data in fresh.items():
        target = folder / name
        if not target.exists():
            writes[name] = data
            report.append((name, "added"))
            continue
        try:
            current = _digest(target.read_bytes())
        except OSError as err:
            raise KcourseError(f"cannot read {target}: {err.strerror}") from None
        if current == manifest.get(name):  # as kcourse wrote it: the learner has not edited it
            if current == _digest(data):
                report.append((name, "unchanged"))
            else:
                writes[name] = data
                report.append((name, "updated"))
        elif current == _digest(data):
            report.append((name, "unchanged"))
            manifest[name] = current
        else:
            side = name.removesuffix(".ipynb") + COURSE_SUFFIX
            writes[side] = data
            report.append((name, f"kept: you changed it (the course's version is {side})"))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in writes.items():
            (folder / name).write_bytes(data)
            if not name.endswith(COURSE_SUFFIX):
                manifest[name] = _digest(data)
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    except OSError as err:
        raise KcourseError(f"cannot write {err.filename or folder}: {err.strerror}") from None
    return report


def describe(folder: Path, report: list[tuple[str, str]]) -> str:
    """What `kcourse lab` prints before JupyterLab starts."""
    lines = [f"your lessons: {folder} (answer cells blank; ex.solution() shows a worked one)"]
    lines += [f"  {name}: {what}" for name, what in report if what != "unchanged"]
    return "\n".join(lines)
