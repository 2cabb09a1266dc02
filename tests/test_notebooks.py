"""The lessons as files: well-formed, linked into one course, exercises in the nbgrader pattern.

These are static checks of the stored notebooks (nbval re-runs them and compares outputs; this
file checks what nbval does not): a valid nbformat, the version cell first, "Next" and "Start
here" links, NBVAL markers that nbval will actually recognise, no host paths or Python object
addresses in stored outputs, unique exercise ids, and every exercise answered in a
`### BEGIN SOLUTION` / `### END SOLUTION` cell that student copies blank out.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import nbformat
import pytest

from kcourse.instructor import PLACEHOLDER, make_student_copy
from kcourse.paths import cache_dir, data_dir, notebooks_dir

LESSONS = sorted(notebooks_dir().glob("[0-9]*.ipynb"))
START = "00-Start-Here.ipynb"

# Lessons written before the exercise pattern and the closing links were required; they are
# another helper's to convert. xfail (not strict) so the suite stays green while they change.
NOT_YET_CONVERTED = {
    "exercise-pattern": set(),
    "back-link": set(),
}

# nbval's own marker table (nbval/plugin.py comment_markers); it only honours a comment line
# whose whole text, after '#', is one of these.
NBVAL_MARKERS = {"NBVAL_IGNORE_OUTPUT", "NBVAL_CHECK_OUTPUT", "NBVAL_RAISES_EXCEPTION",
                 "NBVAL_SKIP"}

ABS_PATH = re.compile(r"(?<![\w.~/-])/[\w.+-][^\s'\"`),;:\]]*")
HOST_PREFIXES = ("/work/", "/home/", "/root/", "/tmp/")
# Paths that are part of what the course shows, not of the machine that ran it:
COURSE_PATHS = (
    "/root/modules",          # the simulated root shell's working directory (kcourse.shell)
    "/tmp/kcourse-build/",    # where the committed kbuild files were generated (data/modules/*)
    "/tmp/kcourse-tampered/", # tampered modules inside the QEMU guest (kcourse.lab.tamper)
)
PY_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+>")
EXERCISE_VAR = re.compile(r"^(\w+)\s*=\s*Exercise\(\s*[\"']([^\"']+)[\"']", re.M)
ANSWER_CELL = re.compile(r"\A### BEGIN SOLUTION\n(?P<body>(?:.*\n)*?)### END SOLUTION\n"
                         r"(?P<var>\w+)\.check\(answer\)\s*\Z")


def _nb(path: Path):
    return nbformat.read(path, as_version=4)


def _code(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def _texts(cell):
    for out in cell.get("outputs", []):
        if "text" in out:
            yield out["text"]
        for mime, value in out.get("data", {}).items():
            if mime.startswith("text/"):
                yield value


def _xfail_unless_converted(kind: str, path: Path):
    if path.stem in NOT_YET_CONVERTED[kind]:
        pytest.xfail(f"{path.name} has not been converted yet ({kind})")


lesson = pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])


def test_the_course_has_its_lessons():
    assert [p.name for p in LESSONS][:1] == [START] and len(LESSONS) >= 6


@lesson
def test_valid_nbformat(path):
    nbformat.validate(_nb(path))


@lesson
def test_first_code_cell_prints_the_version(path):
    first = _code(_nb(path))[0]
    assert first.source.strip() == "import kcourse\nprint(kcourse.__version__)"


@lesson
def test_ends_with_next_and_start_links(path):
    nb = _nb(path)
    last = nb.cells[-1]
    index = LESSONS.index(path)
    if index + 1 < len(LESSONS):
        nxt = LESSONS[index + 1].name
        assert last.cell_type == "markdown" and "Next" in last.source, "no closing Next cell"
        assert f"]({nxt})" in last.source, f"the last cell does not link to {nxt}"
    if path.name != START:
        _xfail_unless_converted("back-link", path)
        assert last.cell_type == "markdown" and f"]({START})" in last.source


@lesson
def test_nbval_markers_are_alone_on_their_line(path):
    for n, cell in enumerate(_code(_nb(path))):
        for line in cell.source.splitlines():
            if "NBVAL" not in line:
                continue
            marker = line.strip().lstrip("#").strip()
            assert line.strip() == f"# {marker}" and marker in NBVAL_MARKERS, (
                f"code cell {n}: {line!r} is not a marker nbval recognises")


@lesson
def test_no_host_paths_or_object_addresses_in_outputs(path):
    here = {str(Path.home()), str(data_dir().parent), str(cache_dir()), tempfile.gettempdir()}
    host = HOST_PREFIXES + tuple(sorted(h.rstrip("/") + "/" for h in here if h != "/"))
    for n, cell in enumerate(_code(_nb(path))):
        for text in _texts(cell):
            for hit in ABS_PATH.findall(text):
                if hit.startswith(COURSE_PATHS):
                    continue
                assert not (hit + "/").startswith(host), f"code cell {n}: host path {hit!r}"
            assert not PY_ADDRESS.search(text), f"code cell {n}: a Python object address"


def test_exercise_ids_are_unique_across_the_course():
    seen: dict[str, str] = {}
    for path in LESSONS:
        for cell in _code(_nb(path)):
            for _var, ident in EXERCISE_VAR.findall(cell.source):
                assert ident not in seen, f"{ident} in {path.name} and {seen[ident]}"
                seen[ident] = path.name
    assert len(seen) >= 20


def _exercises(nb) -> dict[str, str]:
    """{variable: id} of the Exercises a notebook defines (every Exercise( is assigned)."""
    found = {}
    for cell in _code(nb):
        calls = len(re.findall(r"\bExercise\(", cell.source))
        named = EXERCISE_VAR.findall(cell.source)
        assert calls == len(named), f"an Exercise not assigned to a variable: {cell.source[:80]}"
        found.update(named)
    return found


@lesson
def test_every_exercise_is_answered_in_a_solution_cell(path):
    _xfail_unless_converted("exercise-pattern", path)
    nb = _nb(path)
    exercises = _exercises(nb)
    answered = set()
    for cell in _code(nb):
        checks = set(re.findall(r"\b(\w+)\.check\(", cell.source)) & set(exercises)
        if not checks:
            continue
        m = ANSWER_CELL.match(cell.source)
        assert m, f"not in the BEGIN/END SOLUTION pattern:\n{cell.source}"
        assert re.search(r"^answer\s*=", m["body"], re.M), "the solution block sets no answer"
        assert checks == {m["var"]}
        stored = "".join(_texts(cell))
        assert stored.startswith("✔ Correct."), f"{m['var']}: the stored answer is not correct"
        answered.add(m["var"])
    assert answered == set(exercises), f"never answered: {set(exercises) - answered}"


@lesson
def test_student_copies_contain_no_solutions(path, tmp_path):
    _xfail_unless_converted("exercise-pattern", path)
    original = _nb(path)
    copy = _nb(make_student_copy(path, tmp_path))
    assert len(copy.cells) == len(original.cells)
    for before, after in zip(_code(original), _code(copy), strict=True):
        assert after.outputs == [] and after.execution_count is None
        assert "BEGIN SOLUTION" not in after.source and "END SOLUTION" not in after.source
        m = ANSWER_CELL.match(before.source)
        if m:
            assert after.source == f"{PLACEHOLDER}\n{m['var']}.check(answer)"
            for line in m["body"].splitlines():
                assert line.strip() == "" or line not in after.source
