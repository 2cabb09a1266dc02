"""The simulator held to the real kernel: every tests/scenarios/*.sh, run on both, compared.

For each scenario the simulator's shell (kcourse.shell.Shell, a fresh kernel, its
/lib/modules holding the same Debian modules as the guest's) and Debian's real kernel under
QEMU (kcourse.lab.RealKernel, a fresh boot) run the same lines. Their
transcripts (`kcourse sim --transcript` form) and the kernel log lines each command caused
must be identical once addresses (0x + 16 hex digits) and dmesg timestamps are masked,
as tests/scenarios/README.md says. The real side is the reference: where the simulator
differs, the scenario is marked xfail(strict=True) below with the concrete difference, for the
simulator to be fixed (never the expectation); a fixed simulator turns the xfail into a
failure until the mark is removed.

Boots are the cost (about 3-6 s each under TCG): all scenarios boot once, two guests at a
time (CI machines have two cores), in one module-scoped fixture.
"""

import difflib
from pathlib import Path

import pytest

from conftest import need, need_tool
from kcourse.backend import CommandResult, format_transcript
from kcourse.errors import KcourseError
from kcourse.lab.compare import normalise, render

SCENARIOS = Path(__file__).parent / "scenarios"
NAMES = sorted(p.stem for p in SCENARIOS.glob("*.sh"))


def make_tampered_copies() -> None:
    """lab_tamper.sh names tampered copies in /tmp/kcourse-tampered (kcourse.lab.tamper).
    Made when this module is imported, so tests/test_shell_scenarios.py (which imports it
    for SIMULATOR_DIFFERS) finds them too, even without QEMU."""
    from kcourse.lab.tamper import make_course_copies

    try:
        make_course_copies()
    except (KcourseError, OSError):
        pass  # no course modules built: lab_tamper then fails with a clear "No such file"


make_tampered_copies()

# Known differences: scenario -> the first differing lines (simulator vs real kernel).
# Empty: the simulator matches the real kernel on every scenario.
SIMULATOR_DIFFERS: dict[str, str] = {}


# Scenarios whose commands' own kernel log lines are not compared, only their transcripts:
# the script prints, through dmesg | grep, the log lines that can be compared (see the .sh).
# scenario -> why the rest of the log differs.
LOG_NOT_COMPARED: dict[str, str] = {
    "lab_oops": "an oops report holds register values, stack and page-table entries, the "
                "faulting user address and the PID: values of the run, not masked",
}


def side_by_side(results: list[CommandResult], with_log: bool = True) -> str:
    """A transcript with each command's kernel log lines after it, normalised."""
    return "".join(render(result, with_log) for result in results)


def first_difference(sim: str, real: str) -> str:
    diff = list(difflib.unified_diff(real.splitlines(), sim.splitlines(), "real", "simulator",
                                     n=1, lineterm=""))
    return "\n".join(diff[:40])


def run_simulator(text: str) -> list[CommandResult]:
    """The script on a fresh simulated machine whose /lib/modules holds what the lab guest's
    holds: the course modules in extra/ and the Debian modules kcourse.lab.prepare stages
    (DEBIAN_MODULES and their depends= closure), from Debian's package in the cache."""
    from kcourse.lab.prepare import DEBIAN_MODULES
    from kcourse.shell import Shell

    return Shell(debian_tree=DEBIAN_MODULES).run_script(text)


@pytest.fixture(scope="module")
def real_runs():
    """scenario -> list[CommandResult] on the real kernel (or the error text)."""
    need_tool("qemu-system-x86_64")
    from kcourse.lab import prepare_lab
    from kcourse.lab.runner import start_scripts
    try:
        lab = prepare_lab()
    except KcourseError as err:
        need(False, f"the real-kernel lab cannot be prepared: {err}")
    make_tampered_copies()  # again: another test may have removed them

    started = start_scripts({name: (SCENARIOS / f"{name}.sh").read_text() for name in NAMES},
                            lab=lab, timeout=240)  # two guests at a time
    runs = {}
    for name, future in started.items():
        try:
            runs[name] = future.result()
        except KcourseError as err:
            runs[name] = f"{type(err).__name__}: {err}"
    return runs


def _param(name: str):
    if name in SIMULATOR_DIFFERS:
        return pytest.param(name, marks=pytest.mark.xfail(
            strict=True, reason=f"simulator differs from the real kernel: "
                                f"{SIMULATOR_DIFFERS[name]}"))
    return name


@pytest.mark.parametrize("name", [_param(n) for n in NAMES])
def test_simulator_matches_real_kernel(name, real_runs, debian_modules_dir):
    # debian_modules_dir: Debian's linux-image package in the cache (the simulator's tree).
    from kcourse.shell.moddir import DebianTreeMissing

    real = real_runs[name]
    assert not isinstance(real, str), f"the real kernel could not run {name}.sh: {real}"
    text = (SCENARIOS / f"{name}.sh").read_text()
    try:
        sim = run_simulator(text)
    except DebianTreeMissing as err:  # apt offers another ABI than data/kernel imitates
        need(False, str(err))
    with_log = name not in LOG_NOT_COMPARED
    real_text, sim_text = side_by_side(real, with_log), side_by_side(sim, with_log)
    assert sim_text == real_text, first_difference(sim_text, real_text)


def test_scenarios_exist():
    assert NAMES, "tests/scenarios/*.sh: no scenario to compare"
    for name in NAMES:
        assert (SCENARIOS / f"{name}.expected").exists(), f"{name}.sh has no .expected file"


# Expected transcripts (tests/scenarios/*.expected) that the real kernel contradicts:
# scenario -> the first differing lines (expected vs real kernel).
EXPECTED_DIFFERS: dict[str, str] = {}


def read_expected(name: str) -> str:
    text = (SCENARIOS / f"{name}.expected").read_text()
    return "".join(line for line in text.splitlines(True) if not line.startswith("#|"))


def _expected_param(name: str):
    if name in EXPECTED_DIFFERS:
        return pytest.param(name, marks=pytest.mark.xfail(
            strict=True, reason=f"{name}.expected differs from the real kernel: "
                                f"{EXPECTED_DIFFERS[name]}"))
    return name


@pytest.mark.parametrize("name", [_expected_param(n) for n in NAMES])
def test_expected_transcript_matches_real_kernel(name, real_runs):
    real = real_runs[name]
    assert not isinstance(real, str), f"the real kernel could not run {name}.sh: {real}"
    real_text = normalise(format_transcript(real))
    expected = read_expected(name)
    assert real_text == expected, first_difference(expected, real_text).replace(
        "simulator", "expected")


# ------------------------------------------------------------------ lesson 05's sessions
def _fields(results) -> list[tuple]:
    return [(r.line, r.stdout, r.stderr, r.rc, tuple(r.dmesg)) for r in results]


@pytest.mark.parametrize("session", ["internals", "breaking", "debian"])
def test_lesson_sessions_in_the_simulator_match_the_real_recording(session, debian_modules_dir,
                                                                   monkeypatch):
    """kcourse.lab.lesson's sessions in the simulator (the "debian" one with the lab's Debian
    modules in /lib/modules) against kcourse/lab/recordings.py, recorded on the real kernel."""
    from kcourse.backend import CommandResult
    from kcourse.lab import lesson, recordings

    monkeypatch.setenv("KCOURSE_REQUIRE_REAL", "1")  # no replay: the simulator must run
    real = [CommandResult(**item) for item in recordings.SESSIONS[session]]
    assert _fields(lesson.simulator_results(session)) == _fields(real)


def test_lesson_debian_session_without_the_cache_replays_and_says_so(tmp_path, monkeypatch,
                                                                      capsys):
    from kcourse.lab import lesson, recordings
    from kcourse.shell.moddir import DebianTreeMissing

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("KCOURSE_QEMU", "/nonexistent/qemu")
    monkeypatch.delenv("KCOURSE_REQUIRE_REAL", raising=False)
    monkeypatch.setattr(lesson, "_LAB", None)
    assert lesson.status() is False
    assert "kcourse lab-prepare --modules-only" in capsys.readouterr().out
    replayed = lesson.simulator_results("debian")
    assert _fields(replayed) == _fields(
        [CommandResult(**item) for item in recordings.SESSIONS["debian"]])
    assert lesson.simulator_results("internals")[0].rc == 0  # the others still simulate
    monkeypatch.setenv("KCOURSE_REQUIRE_REAL", "1")
    with pytest.raises(DebianTreeMissing):
        lesson.simulator_results("debian")
