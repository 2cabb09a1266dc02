"""For instructors: student copies of the lessons, and a graded check of a filled-in copy.

Student copies are made with nbgrader's own preprocessors (ClearSolutions, ClearOutput), so
nbgrader and otter-grader users recognise them: code between `### BEGIN SOLUTION` and
`### END SOLUTION` is replaced by `answer = ...  # YOUR ANSWER HERE` (the lessons' answer
cells set `answer`, and `Exercise.check(...)` says "no answer yet", so Run All still runs to
the end), outputs are cleared, and each lesson goes to `<out>/release/<lesson>/<lesson>.ipynb`.
Worked solutions stay in the package: a learner sees them with `ex.solution()`.

Grading executes a filled-in notebook in a fresh kernel with a private progress file and
reports, per exercise the notebook defines, whether its check passed.
"""

from __future__ import annotations

import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from kcourse.errors import KcourseError
from kcourse.exercises import EXERCISE_ID

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
PLACEHOLDER = "answer = ...  # YOUR ANSWER HERE"


def _clear_solutions():
    """nbgrader's own ClearSolutions preprocessor, with the lessons' stub. It is run on code
    cells only: the lessons' markdown names the delimiters when it explains them."""
    from nbgrader.preprocessors import ClearSolutions

    return ClearSolutions(code_stub={"python": PLACEHOLDER}, enforce_metadata=False)


def strip_solutions(source: str) -> str:
    """Replace every BEGIN/END SOLUTION block by the placeholder, keeping its indentation."""
    import logging

    import nbformat

    cell = nbformat.v4.new_code_cell(source)
    clear = _clear_solutions()
    clear.log.setLevel(logging.CRITICAL)  # its error is ours to say, in one line
    try:
        clear.preprocess_cell(cell, {"language": "python"}, 0)
    except RuntimeError as err:  # "no end solution statement found", or a nested BEGIN
        if "nested" in str(err):
            raise KcourseError(f"'{BEGIN}' inside another '{BEGIN}'") from None
        raise KcourseError(f"'{BEGIN}' without '{END}'") from None
    return cell.source


def _read(path: Path):
    import nbformat

    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise KcourseError(f"{path}: no such notebook") from None
    except (OSError, ValueError) as err:
        raise KcourseError(f"{path}: cannot read it ({getattr(err, 'strerror', err)})") from None
    if stat.S_ISDIR(info.st_mode):
        raise KcourseError(f"{path}: is a directory, not a notebook")
    if not stat.S_ISREG(info.st_mode):
        raise KcourseError(f"{path}: not a regular file")  # a FIFO would block the reader
    try:
        return nbformat.read(path, as_version=4)
    except Exception as err:  # nbformat raises several kinds for a broken file
        raise KcourseError(f"{path}: not a readable notebook ({type(err).__name__})") from None


def _student_version(notebook: Path):
    """The notebook with solutions replaced (nbgrader's ClearSolutions) and outputs cleared
    (nbgrader's ClearOutput); nothing written yet."""
    from nbgrader.preprocessors import ClearOutput

    nb = _read(notebook)
    for cell in nb.cells:
        if cell.cell_type == "code":
            try:
                cell.source = strip_solutions(cell.source)
            except KcourseError as err:
                raise KcourseError(f"{notebook}: {err}") from None
    nb, _ = ClearOutput().preprocess(nb, {})
    return nb


def _write(nb, notebook: Path, out_dir: Path) -> Path:
    import nbformat

    target = out_dir / "release" / notebook.stem / notebook.name
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target)
    except OSError as err:
        raise KcourseError(f"cannot write {err.filename or target}: {err.strerror}") from None
    return target


def make_student_copy(notebook: Path, out_dir: Path) -> Path:
    return _write(_student_version(notebook), notebook, out_dir)


def make_student_copies(notebooks: list[Path], out_dir: Path) -> list[Path]:
    """Every copy is prepared before the first is written: a broken notebook (or an OUT_DIR
    that is a file) leaves the disk as it was."""
    if out_dir.exists() and not out_dir.is_dir():
        raise KcourseError(f"{out_dir}: exists and is not a directory")
    prepared = [(_student_version(nb), nb) for nb in notebooks]
    return [_write(nb, path, out_dir) for nb, path in prepared]


@dataclass(frozen=True)
class ExerciseScore:
    exercise: str
    solved: bool
    attempts: int

    @property
    def points(self) -> int:
        return 1 if self.solved else 0


def grade(notebook: Path, timeout: int = 300) -> list[ExerciseScore]:
    """Run a filled-in notebook and score each exercise it defines (1 point if solved)."""
    import json

    from nbclient import NotebookClient

    nb = _read(notebook)
    ids = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            ids += [i for i in EXERCISE_ID.findall(cell.source) if i not in ids]
    with tempfile.TemporaryDirectory(prefix="kcourse-grade-") as tmp:
        progress = Path(tmp) / "progress.json"
        old = os.environ.get("KCOURSE_PROGRESS_FILE")
        os.environ["KCOURSE_PROGRESS_FILE"] = str(progress)
        try:
            client = NotebookClient(nb, timeout=timeout, allow_errors=True,
                                    resources={"metadata": {"path": str(notebook.parent)}})
            client.execute()
        except KcourseError:
            raise
        except Exception as err:  # no Jupyter kernel, a cell over the timeout, a dead kernel
            text = " ".join(str(err).split())[:160]
            raise KcourseError(f"{notebook}: could not run it ({type(err).__name__}: "
                               f"{text})") from None
        finally:
            if old is None:
                os.environ.pop("KCOURSE_PROGRESS_FILE", None)
            else:
                os.environ["KCOURSE_PROGRESS_FILE"] = old
        record = json.loads(progress.read_text()) if progress.exists() else {}
    return [ExerciseScore(i, record.get(i, {}).get("solved", False),
                          record.get(i, {}).get("attempts", 0)) for i in ids]


def format_scores(notebook: Path, scores: list[ExerciseScore]) -> str:
    lines = [f"{notebook.name}"]
    lines += [f"  {s.exercise:<40} {s.points}/1  ({s.attempts} attempt(s))" for s in scores]
    total = sum(s.points for s in scores)
    lines.append(f"  {'total':<40} {total}/{len(scores)}")
    return "\n".join(lines)


def student_copies_main(argv: list[str]) -> int:
    """kcourse student-copies OUT_DIR [NOTEBOOK...] (default: every lesson)."""
    from kcourse.paths import notebooks_dir

    if argv and argv[0] in ("-h", "--help"):
        print("usage: kcourse student-copies OUT_DIR [NOTEBOOK...]")
        return 0
    if not argv or argv[0].startswith("-"):
        raise KcourseError("usage: kcourse student-copies OUT_DIR [NOTEBOOK...]")
    out_dir = Path(argv[0])
    notebooks = [Path(a) for a in argv[1:]] or sorted(notebooks_dir().glob("[0-9]*.ipynb"))
    for target in make_student_copies(notebooks, out_dir):
        print(target)
    return 0


def grade_main(argv: list[str]) -> int:
    """kcourse grade NOTEBOOK...: print a score per exercise."""
    if argv and argv[0] in ("-h", "--help"):
        print("usage: kcourse grade NOTEBOOK...")
        return 0
    if not argv or any(a.startswith("-") for a in argv):
        raise KcourseError("usage: kcourse grade NOTEBOOK...")
    for arg in argv:
        _read(Path(arg))   # every notebook readable before the first one runs
    for arg in argv:
        path = Path(arg)
        print(format_scores(path, grade(path)))
    return 0
