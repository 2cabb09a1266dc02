"""The learner's working copy (kcourse.workcopy, `kcourse lab`): no spoilers, no clobbered work."""

from __future__ import annotations

import json

import nbformat
import pytest

from kcourse import cli, workcopy
from kcourse.errors import KcourseError
from kcourse.instructor import BEGIN, PLACEHOLDER
from kcourse.paths import notebooks_dir

LESSONS = sorted(notebooks_dir().glob("[0-9]*.ipynb"))


def code_cells(path):
    return [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def test_first_use_writes_every_lesson_with_blank_answers(tmp_path):
    report = workcopy.prepare(tmp_path / "work")
    assert report == [(lesson.name, "added") for lesson in LESSONS]
    for lesson in LESSONS:
        copy = tmp_path / "work" / lesson.name
        cells = code_cells(copy)
        assert not any(BEGIN in c for c in cells)  # the worked answers are gone ...
        solved = sum(BEGIN in c for c in code_cells(lesson))
        assert sum(PLACEHOLDER in c for c in cells) == solved  # ... each one blank
        assert all(not c.outputs for c in nbformat.read(copy, as_version=4).cells
                   if c.cell_type == "code")
    assert workcopy.prepare(tmp_path / "work") == [(n.name, "unchanged") for n in LESSONS]


def lesson_pair(tmp_path, text):
    """A one-cell course lesson in its own folder (the course's notebooks stay as they are)."""
    course = tmp_path / "course"
    course.mkdir(exist_ok=True)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"{BEGIN}\nanswer = {text!r}\n### END SOLUTION")]
    path = course / "07-New.ipynb"
    nbformat.write(nb, path)
    return path


def test_a_newer_course_updates_untouched_lessons_and_keeps_edited_ones(tmp_path):
    work = tmp_path / "work"
    lesson = lesson_pair(tmp_path, "v1")
    assert workcopy.prepare(work, [lesson]) == [("07-New.ipynb", "added")]
    lesson = lesson_pair(tmp_path, "v2")  # the course changes the lesson (its solution)
    nb = nbformat.read(lesson, as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("a new paragraph"))
    nbformat.write(nb, lesson)
    assert workcopy.prepare(work, [lesson]) == [("07-New.ipynb", "updated")]
    assert "a new paragraph" in (work / "07-New.ipynb").read_text()
    # the learner answers in their copy ...
    mine = nbformat.read(work / "07-New.ipynb", as_version=4)
    mine.cells[0].source = "answer = 42  # mine"
    nbformat.write(mine, work / "07-New.ipynb")
    nb.cells.append(nbformat.v4.new_markdown_cell("yet another paragraph"))
    nbformat.write(nb, lesson)
    report = workcopy.prepare(work, [lesson])
    assert report == [("07-New.ipynb",
                       "kept: you changed it (the course's version is 07-New.course.ipynb)")]
    assert "answer = 42  # mine" in (work / "07-New.ipynb").read_text()  # ... never clobbered
    assert "yet another paragraph" in (work / "07-New.course.ipynb").read_text()
    (work / "07-New.ipynb").unlink()  # deleting a lesson gets a fresh copy next time
    assert workcopy.prepare(work, [lesson]) == [("07-New.ipynb", "added")]


def test_the_learners_other_files_are_left_alone(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "kmodules").mkdir()
    (work / "notes.ipynb").write_text("mine")
    workcopy.prepare(work, [lesson_pair(tmp_path, "v1")])
    assert (work / "notes.ipynb").read_text() == "mine"
    assert sorted(p.name for p in work.iterdir()) == sorted(
        ["kmodules", "notes.ipynb", "07-New.ipynb", workcopy.MANIFEST])


def test_bad_folders_are_one_line_and_write_nothing(tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    with pytest.raises(KcourseError, match="exists and is not a folder"):
        workcopy.prepare(a_file)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / workcopy.MANIFEST).write_text("{not json")
    with pytest.raises(KcourseError, match="not a kcourse manifest"):
        workcopy.prepare(broken)
    assert sorted(p.name for p in broken.iterdir()) == [workcopy.MANIFEST]


def test_kcourse_lab_opens_the_working_copy(tmp_path, monkeypatch, capsys):
    launched = {}
    monkeypatch.setattr(cli, "_launch", lambda folder, argv: launched.update(
        folder=folder, argv=argv) or 0)
    assert cli.lab_main(["--work", str(tmp_path / "w"), "--no-browser"]) == 0
    assert launched == {"folder": tmp_path / "w", "argv": ["--no-browser"]}
    out = capsys.readouterr().out
    assert out.startswith(f"your lessons: {tmp_path / 'w'}")
    assert "01-User-Space-vs-Kernel-Space.ipynb: added" in out
    manifest = json.loads((tmp_path / "w" / workcopy.MANIFEST).read_text())
    assert sorted(manifest) == [lesson.name for lesson in LESSONS]
    with pytest.raises(KcourseError, match="--work needs a folder"):
        cli.lab_main(["--work"])


def test_the_default_folder_is_kcourses_own_data_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("KCOURSE_WORK", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert workcopy.default_folder() == tmp_path / "data" / "kcourse" / "lessons"
    monkeypatch.setenv("KCOURSE_WORK", str(tmp_path / "mine"))
    assert workcopy.default_folder() == tmp_path / "mine"
