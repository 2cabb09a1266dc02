"""Each programming exercise: its worked solution passes and its skeleton does not.

Both are built with the real kbuild against the pinned headers (skipped without gcc/headers,
a failure under CI) and judged on a fresh simulated kernel. The judges' expectations come from
each task's statement (what the module must print, what modinfo, sysfs, lsmod and the ledger
must show), never from a run of the solution; these tests hold the judges to refusing the
skeletons, whose TODOs are not done.
"""

import pytest

from conftest import need
from kcourse.build.build_cli import missing_tool
from kcourse.errors import KcourseError
from kcourse.exercises_programs import program, program_ids

IDS = program_ids()


@pytest.fixture(autouse=True)
def private_progress(tmp_path, monkeypatch):
    monkeypatch.setenv("KCOURSE_PROGRESS_FILE", str(tmp_path / "progress.json"))


def built(exercise, which, base):
    need(not missing_tool(), missing_tool() or "")
    try:
        return exercise.build(which, base)
    except KcourseError as err:
        need(False, str(err))


@pytest.mark.parametrize("exercise_id", IDS)
def test_the_solution_passes(exercise_id, tmp_path, capsys):
    exercise = program(exercise_id)
    assert exercise.check(built(exercise, "solution", tmp_path)), capsys.readouterr().out
    assert capsys.readouterr().out.startswith("✔ Correct (on the simulated kernel).")
    assert exercise.solved


@pytest.mark.parametrize("exercise_id", IDS)
def test_the_skeleton_fails_and_says_what_the_kernel_showed(exercise_id, tmp_path, capsys):
    exercise = program(exercise_id)
    assert not exercise.check(built(exercise, "skeleton", tmp_path))
    out = capsys.readouterr().out
    assert out.startswith("✘ Not yet (on the simulated kernel): ") and out.count("\n") == 1
    assert "Traceback" not in out and exercise.attempts == 1 and not exercise.solved


def test_leak_feedback_names_the_bytes_left(tmp_path, capsys):
    exercise = program("uvk.leak-fix")
    exercise.check(built(exercise, "skeleton", tmp_path))
    # kmalloc(4000) is a kmalloc-4k object (include/linux/slab.h size classes): 3 x 4096 left
    assert "still holds 12288 bytes" in capsys.readouterr().out


def test_a_cells_folder_by_name_and_a_stale_ko_is_rebuilt(tmp_path, monkeypatch, capsys):
    """check("greet") finds ./kmodules/greet; editing the .c (as a learner would) rebuilds."""
    exercise = program("compile.ccflags")
    folder = built(exercise, "solution", tmp_path)
    monkeypatch.chdir(tmp_path)
    assert exercise.check("greet")
    source = folder / "greet.c"
    source.write_text(source.read_text().replace("GREETING);", '"something else");'))
    assert not exercise.check(...)
    assert 'greet should print "hello from kbuild"' in capsys.readouterr().out.splitlines()[-1]


def test_no_module_yet_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    exercise = program("structure.count-param")
    assert not exercise.check("countparm")
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "run the %%kmodule countparm cell first" in out
    assert not exercise.check(42)
    assert "give the module's name" in capsys.readouterr().out


def test_skeleton_and_solution_print_the_cells(capsys):
    exercise = program("internals.export")
    exercise.skeleton()
    out = capsys.readouterr().out
    assert out.startswith("%%kmodule exprov\n") and "TODO 1" in out
    assert "%%kmodule excons --kbuild 'KBUILD_EXTRA_SYMBOLS := $(src)/../exprov/Module.symvers'" \
        in out
    exercise.solution()
    assert "EXPORT_SYMBOL(exprov_twice);" in capsys.readouterr().out


def test_the_real_kernel_says_when_qemu_is_missing(tmp_path, monkeypatch, capsys):
    exercise = program("uvk.leak-fix")
    folder = built(exercise, "solution", tmp_path)
    monkeypatch.setattr("kcourse.lab.prepare.shutil.which", lambda name: None)
    assert not exercise.check(folder, real=True)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("The real kernel needs QEMU: ")


def test_each_lesson_cell_holds_its_exercises_skeleton():
    """The %%kmodule cells the lessons 01-04 give the learner are the skeletons, TODOs and all,
    and every programming exercise is in a lesson (at least one in each of 01-04)."""
    import re

    import nbformat

    from kcourse.paths import notebooks_dir

    placed: dict[str, str] = {}
    for path in sorted(notebooks_dir().glob("0[1-4]-*.ipynb")):
        cells = [c.source for c in nbformat.read(path, as_version=4).cells
                 if c.cell_type == "code"]
        ids = [i for c in cells for i in re.findall(r'program\("([^"]+)"\)', c)]
        assert ids, f"{path.name} has no programming exercise"
        for exercise_id in ids:
            exercise = program(exercise_id)
            for name in exercise.modules:
                cell = next(c for c in cells if c.startswith(f"%%kmodule {name}"))
                assert cell.split("\n", 1)[1] == exercise.skeleton_sources[name].rstrip("\n")
                assert "TODO" in cell
            placed[exercise_id] = path.name
    assert sorted(placed) == sorted(IDS)
