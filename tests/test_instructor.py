import nbformat
import pytest

from kcourse.cli import main
from kcourse.errors import KcourseError
from kcourse.instructor import PLACEHOLDER, grade, make_student_copy, strip_solutions


def _lesson(tmp_path, answer_line):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "from kcourse.exercises import Exercise\n"
            "ex1 = Exercise('t.one', 'q', answer='.init.text')\n"
            "ex2 = Exercise('t.two', 'q', answer=12288)"
        ),
        nbformat.v4.new_code_cell(
            f"### BEGIN SOLUTION\nanswer = {answer_line}\n### END SOLUTION\nex1.check(answer)"
        ),
        nbformat.v4.new_code_cell("ex2.check(4096)"),
    ]
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="✔ Correct.\n")]
    path = tmp_path / "01-Lesson.ipynb"
    nbformat.write(nb, path)
    return path


def test_strip_solutions_keeps_indentation_and_code_around():
    src = "x = 1\n    ### BEGIN SOLUTION\n    answer = 2\n    ### END SOLUTION\nprint(x)"
    assert strip_solutions(src) == f"x = 1\n    {PLACEHOLDER}\nprint(x)"
    with pytest.raises(KcourseError):
        strip_solutions("### BEGIN SOLUTION\nsecret")


def test_student_copy_has_no_solution_and_no_outputs(tmp_path):
    copy = make_student_copy(_lesson(tmp_path, "'.init.text'"), tmp_path / "out")
    assert copy == tmp_path / "out" / "release" / "01-Lesson" / "01-Lesson.ipynb"
    nb = nbformat.read(copy, as_version=4)
    text = "\n".join(c.source for c in nb.cells)
    assert "'.init.text'\n" not in text.split("ex1 =")[1] and PLACEHOLDER in text
    assert all(c.outputs == [] for c in nb.cells)


def test_grade_scores_each_exercise_from_a_real_run(tmp_path, capsys):
    path = _lesson(tmp_path, "'.init.text'")
    scores = {s.exercise: s.points for s in grade(path)}
    assert scores == {"t.one": 1, "t.two": 0}
    assert main(["grade", str(path)]) == 0
    assert "total" in capsys.readouterr().out


def test_grade_of_a_missing_notebook_is_one_clear_line(tmp_path, capsys):
    assert main(["grade", str(tmp_path / "nope.ipynb")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such notebook" in err


def test_a_student_copy_runs_to_the_end_and_scores_zero(tmp_path):
    copy = make_student_copy(_lesson(tmp_path, "'.init.text'"), tmp_path / "out")
    scores = {s.exercise: (s.points, s.attempts) for s in grade(copy)}
    assert scores == {"t.one": (0, 0), "t.two": (0, 1)}
