import pytest

from kcourse import exercises
from kcourse.exercises import Exercise


@pytest.fixture(autouse=True)
def private_progress(tmp_path, monkeypatch):
    monkeypatch.setenv("KCOURSE_PROGRESS_FILE", str(tmp_path / "progress.json"))


def test_string_answer_is_stripped_and_case_sensitive(capsys):
    ex = Exercise("t.str", "q", answer=".init.text", hint="h", solution="s")
    assert ex.check("  .init.text\n")
    assert not ex.check(".INIT.TEXT")
    out = capsys.readouterr().out
    assert "✔ Correct." in out and "✘ Not yet" in out and "ex.hint()" in out


def test_numbers_accept_strings_and_hex():
    ex = Exercise("t.num", "q", answer=12288)
    assert ex.check("12288") and ex.check("0x3000") and not ex.check("12289")
    assert not ex.check("twelve")


def test_sets_ignore_order_and_say_what_is_missing(capsys):
    ex = Exercise("t.set", "q", answer={"_printk", "kmalloc"})
    assert not ex.check(["_printk"])
    assert "1 missing" in capsys.readouterr().out
    assert ex.check(["kmalloc", "_printk"])


def test_custom_check_and_crashing_check_never_raise(capsys):
    ex = Exercise("t.fn", "q", check=lambda a: (a > 3, "too small"))
    assert ex.check(5)
    assert not ex.check("x")  # '>' between str and int raises TypeError inside the check
    assert "could not check" in capsys.readouterr().out


def test_hint_and_solution_print(capsys):
    ex = Exercise("t.hs", "q", answer=1, hint="look", solution="one")
    ex.hint()
    ex.solution()
    assert capsys.readouterr().out == "Hint: look\nSolution: one\n"


def test_progress_is_recorded_and_reset():
    ex = Exercise("t.prog", "q", answer="a")
    ex.check("b")
    ex.check("a")
    assert exercises.progress()["t.prog"] == {"attempts": 2, "solved": True}
    exercises.reset_progress()
    assert exercises.progress() == {}


def test_exactly_one_of_answer_or_check():
    with pytest.raises(ValueError):
        Exercise("t.bad", "q")


def test_progress_report_per_lesson(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("a = Exercise('l.a', 'q', answer=1)\n"
                                          "b = Exercise(\"l.b\", 'q', answer=2)")]
    path = tmp_path / "07-Lesson.ipynb"
    nbformat.write(nb, path)
    assert exercises.lesson_exercises([path]) == {"07-Lesson": ["l.a", "l.b"]}
    Exercise("l.a", "q", answer=1).check(1)
    assert exercises.progress_report([path]) == "07-Lesson: 1/2 done; to do: l.b"


def test_a_blank_answer_is_not_an_attempt(capsys):
    ex = Exercise("t.blank", "q", answer="x")
    assert not ex.check(...)
    assert "No answer yet" in capsys.readouterr().out
    assert "t.blank" not in exercises.progress()
