"""The scenario scripts in tests/scenarios/, run in the simulator, against expected transcripts
written from the real kernel, kmod and the sources (see tests/scenarios/README.md: each
expected file says, command by command, where its text comes from)."""

from pathlib import Path

import pytest

from conftest import need
from kcourse.backend import format_transcript
from kcourse.shell import Shell

SCENARIOS = Path(__file__).parent / "scenarios"


def normalise(text: str) -> str:
    """README.md "Comparing": addresses, dmesg timestamps and job PIDs may differ, nothing
    else (the rule of kcourse.lab.compare.normalise)."""
    from kcourse.lab.compare import normalise as lab_normalise

    return lab_normalise(text)


def expected_text(path: Path) -> str:
    return "".join(line for line in path.read_text().splitlines(keepends=True)
                   if not line.startswith("#|"))


def scenario_names() -> list[str]:
    return sorted(p.stem for p in SCENARIOS.glob("*.sh"))


def test_every_script_has_an_expected_transcript_with_provenance():
    names = scenario_names()
    assert len(names) >= 9
    for name in names:
        expected = SCENARIOS / f"{name}.expected"
        assert expected.is_file(), name
        notes = [line for line in expected.read_text().splitlines() if line.startswith("#|")]
        assert any(word in " ".join(notes) for word in ("real", "source")), name


# Scenarios recorded on the real-kernel lab that load Debian's own modules: the simulated
# /lib/modules then holds the same Debian modules as the lab's guest (kcourse.lab.prepare
# DEBIAN_MODULES and their dependencies), from Debian's linux-image package in the cache.
DEBIAN_SCENARIOS = {"lab_debian", "lab_softdep"}

# Scenarios where the simulator is known to differ from its expected transcript (the real
# kernel is the reference): name -> what differs. Empty: every scenario matches.
KNOWN_DIFFERENCES: dict[str, str] = {}


def _param(name: str):
    if name in KNOWN_DIFFERENCES:
        return pytest.param(name, marks=pytest.mark.xfail(
            strict=True, reason=KNOWN_DIFFERENCES[name]))
    return name


def scenario_shell(name: str, request) -> Shell:
    if name not in DEBIAN_SCENARIOS:
        return Shell()
    from kcourse.lab.prepare import DEBIAN_MODULES
    from kcourse.shell.moddir import DebianTreeMissing

    request.getfixturevalue("debian_modules_dir")  # fetched into the cache (or skipped)
    try:
        return Shell(debian_tree=DEBIAN_MODULES)
    except DebianTreeMissing as err:  # apt offers another ABI than data/kernel imitates
        need(False, str(err))


@pytest.mark.parametrize("name", [_param(n) for n in scenario_names()])
def test_scenario_matches_the_real_system(name, request):
    script = (SCENARIOS / f"{name}.sh").read_text()
    results = scenario_shell(name, request).run_script(script)
    got = normalise(format_transcript(results))
    assert got == expected_text(SCENARIOS / f"{name}.expected")


def test_normalise_only_touches_addresses_and_timestamps():
    text = "hello 16384 0 - Live 0xffffffffc04ba000 (OE)\n[    5.123456] hello: x 0x1\n"
    assert normalise(text) == "hello 16384 0 - Live 0xADDR (OE)\n[TIME] hello: x 0x1\n"


def test_a_changed_expectation_fails():
    """The comparison can fail: the same script with one line of expected text changed."""
    script = (SCENARIOS / "forced.sh").read_text()
    got = normalise(format_transcript(Shell().run_script(script)))
    assert got != expected_text(SCENARIOS / "forced.expected").replace("12288", "12296")
