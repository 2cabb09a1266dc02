"""Each programming exercise: its worked solution passes and its skeleton does not.

Both are built with the real kbuild against the pinned headers (skipped without gcc/headers,
a failure under CI) and judged on a fresh simulated kernel. The judges' expectations come from
each task's statement (what the module must print, what modinfo, sysfs, lsmod and the ledger
must show), never from a run of the solution; these tests hold the judges to refusing the
skeletons, whose TODOs are not done.
"""

import contextlib
import io
import shutil

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
    """The %%kmodule cells the lessons 01-05 give the learner are the skeletons, TODOs and all,
    and every programming exercise is in a lesson (at least one in each of 01-05)."""
    import re

    import nbformat

    from kcourse.paths import notebooks_dir

    placed: dict[str, str] = {}
    for path in sorted(notebooks_dir().glob("0[1-5]-*.ipynb")):
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


def near_miss(exercise, base, source=None, kbuild=None):
    """Build the worked solution with one thing changed, as a learner's cell would; the folder."""
    from kcourse.build.cell import build_cell

    need(not missing_tool(), missing_tool() or "")
    name = exercise.modules[0]
    with contextlib.redirect_stdout(io.StringIO()):
        exercise.given(base)
    built = build_cell(name, source or exercise.solution_sources[name],
                       exercise.solution_kbuild.get(name, []) if kbuild is None else kbuild,
                       base=base, file=exercise.files.get(name))
    return built.folder


@pytest.mark.parametrize("kbuild, said", [
    # two modules: util.ko has no MODULE_LICENSE, and main.ko's twofile_sum is not exported
    (["obj-m := main.o util.o"], "main.c did not build: ERROR: modpost:"),
    # built in: an M= build makes only modules (scripts/Makefile.build), so no .ko at all
    (["obj-y := twofile.o", "twofile-y := main.o util.o"], "kbuild made no twofile.ko (it made "
                                                           "no module)"),
    (["twofile-y := main.o util.o"], "kbuild made no twofile.ko"),
])
def test_two_files_refuses_a_kbuild_that_makes_no_twofile_ko(kbuild, said, tmp_path, capsys):
    exercise = program("compile.two-files")
    assert not exercise.check(near_miss(exercise, tmp_path, kbuild=kbuild))
    out = capsys.readouterr().out
    assert out.startswith("✘ Not yet") and said in out and out.count("\n") == 1


def test_two_files_takes_the_older_objs_spelling(tmp_path):
    exercise = program("compile.two-files")  # scripts/Makefile.lib: -objs, -y (and -m)
    assert exercise.check(near_miss(exercise, tmp_path, kbuild=[
        "obj-m := twofile.o", "twofile-objs := main.o util.o"]))


def test_two_files_without_the_prototype_does_not_build(tmp_path, capsys):
    exercise = program("compile.two-files")
    source = exercise.solution_sources["twofile"].replace("int twofile_sum(int a, int b);\n", "")
    assert not exercise.check(near_miss(exercise, tmp_path, source=source))
    assert "implicit declaration of function ‘twofile_sum’" in capsys.readouterr().out


def test_two_files_skeleton_cell_and_given_file(tmp_path, capsys):
    exercise = program("compile.two-files")
    exercise.skeleton()
    assert capsys.readouterr().out.startswith("%%kmodule twofile --file main.c\n")
    exercise.solution()
    assert capsys.readouterr().out.startswith(
        "%%kmodule twofile --file main.c --kbuild 'obj-m := twofile.o' "
        "--kbuild 'twofile-y := main.o util.o'\n")
    exercise.given(tmp_path)
    assert capsys.readouterr().out.startswith("wrote kmodules/twofile/util.c:\n")
    assert "int twofile_sum(int a, int b)" in (tmp_path / "kmodules/twofile/util.c").read_text()


UNWIND_MISSES = {
    # what the real kernel showed for each (the lab's guest, 6.1.0-56-amd64): the misc device
    # stays and /dev/unwind with it; a leaked kmalloc-4k object is only the ledger's to see
    "no misc_deregister": ("deregister:\n\tmisc_deregister(&unwind_misc);\n", "deregister:\n",
                           "/dev/unwind should be gone: `ls /dev/unwind` printed '/dev/unwind'"),
    "no kfree": ("free_buf:\n\tkfree(unwind_buf);\n", "free_buf:\n",
                 "still holds 4096 bytes that unwind allocated"),
    "error swallowed": ("\tkfree(unwind_buf);\n\treturn err;", "\tkfree(unwind_buf);\n\treturn 0;",
                        "insmod says 'insmod: ERROR: could not insert module unwind.ko: No such "
                        "device': `insmod unwind.ko fail=1` printed nothing"),
    "another error": ("\tkfree(unwind_buf);\n\treturn err;", "\tkfree(unwind_buf);\n\treturn -EIO;",
                      "printed 'insmod: ERROR: could not insert module unwind.ko: Input/output "
                      "error'"),
}


@pytest.mark.parametrize("miss", sorted(UNWIND_MISSES))
def test_unwind_refuses_each_near_miss_saying_what_the_kernel_showed(miss, tmp_path, capsys):
    exercise = program("lab.init-unwind")
    old, new, said = UNWIND_MISSES[miss]
    source = exercise.solution_sources["unwind"]
    assert old in source
    assert not exercise.check(near_miss(exercise, tmp_path, source=source.replace(old, new)))
    out = capsys.readouterr().out
    assert said in out and out.count("\n") == 1


@pytest.mark.parametrize("exercise_id", IDS)
def test_the_solution_passes_on_the_real_kernel(exercise_id, tmp_path, capsys):
    """Every worked solution, judged on Debian's kernel under QEMU (a guest booted each)."""
    need(shutil.which("qemu-system-x86_64") is not None, "qemu-system-x86_64 is not installed")
    exercise = program(exercise_id)
    assert exercise.check(built(exercise, "solution", tmp_path), real=True), \
        capsys.readouterr().out
    assert capsys.readouterr().out.startswith("✔ Correct (on the real kernel).")


MUTEX_MISSES = {
    # the mutex taken and never given back: the second writer sleeps for good
    "no unlock": ("\tmutex_unlock(&mutexfix_lock);\n", "", "sleeps in mutex_lock() for good"),
    # only the read under the lock: the pause and the write-back still interleave
    "lock around the read only": (
        "\tv = READ_ONCE(mutexfix_count);\n",
        "\tv = READ_ONCE(mutexfix_count);\n\tmutex_unlock(&mutexfix_lock);\n\tmutex_lock("
        "&mutexfix_lock);\n", "end with the count at 2, not 3"),
    # no mutex at all: gcc makes `count++` one `addq $1, mutexfix_count(%rip)`
    "x++ and no mutex": (
        "\tmutex_lock(&mutexfix_lock);\n\tv = READ_ONCE(mutexfix_count);\n\tudelay(2);\n"
        "\tWRITE_ONCE(mutexfix_count, v + 1);\n\tmutex_unlock(&mutexfix_lock);\n",
        "\tmutexfix_count++;\n", "calls no mutex_lock()"),
    # the increment after the unlock: an unlocked read-modify-write, which the explorer cannot
    # split (kcourse.machine.smp) and a real CPU does not do indivisibly
    "x++ after the unlock": (
        "\tWRITE_ONCE(mutexfix_count, v + 1);\n\tmutex_unlock(&mutexfix_lock);\n",
        "\tmutex_unlock(&mutexfix_lock);\n\tmutexfix_count++;\n",
        "reads and writes mutexfix_count in one instruction without `lock`"),
}


@pytest.mark.parametrize("miss", sorted(MUTEX_MISSES))
def test_mutex_refuses_each_near_miss_naming_the_schedules(miss, tmp_path, capsys):
    exercise = program("uvk.mutex")
    old, new, said = MUTEX_MISSES[miss]
    source = exercise.solution_sources["mutexfix"]
    assert old in source
    assert not exercise.check(near_miss(exercise, tmp_path, source=source.replace(old, new)))
    out = capsys.readouterr().out
    assert said in out and out.count("\n") == 1


def test_mutex_takes_a_fix_that_also_prints(tmp_path, capsys):
    """A right answer in another form: a pr_info inside the critical section."""
    exercise = program("uvk.mutex")
    source = exercise.solution_sources["mutexfix"].replace(
        "\tmutex_unlock(&mutexfix_lock);\n", '\tpr_info("count %lu\\n", v + 1);\n'
        "\tmutex_unlock(&mutexfix_lock);\n")
    assert exercise.check(near_miss(exercise, tmp_path, source=source)), capsys.readouterr().out


def test_a_real_check_runs_in_the_notebooks_live_guest(tmp_path, capsys):
    """With a %%kshell --real guest up (lesson 05), a real check runs there: no second boot,
    and a second check finds nothing the first one left."""
    need(shutil.which("qemu-system-x86_64") is not None, "qemu-system-x86_64 is not installed")
    from kcourse import magic

    exercise = program("uvk.mutex")
    folder = built(exercise, "solution", tmp_path)
    shell = magic.notebook_real_shell()
    try:
        assert shell.run("insmod hello/hello.ko").rc == 0  # the lesson's own state, left as is
        guest = shell.guest
        assert exercise.check(folder, real=True), capsys.readouterr().out
        assert exercise.check(folder, real=True), capsys.readouterr().out
        assert shell.guest is guest
        assert shell.run("grep -c '^hello ' /proc/modules").stdout == "1\n"
    finally:
        shell.close()
        magic._REAL = None
