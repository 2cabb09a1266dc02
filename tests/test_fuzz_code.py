"""The promise that module code cannot crash, hang or escape the simulator, property-tested.

Mutated .text of real modules (kcourse.elf.mutate_code) is loaded, read, written and unloaded
in a fresh Kernel through the shell or the Kernel API, then a good module is loaded
(benchmarks/fuzz_code_case.py). Every run must end in normal output, the kernel's oops or
one `kcourse:` line, and leave a Kernel that still loads a good module unless it panicked.
benchmarks/fuzz_code.py runs 10,000 cases, each in a process killed past a time bound; here a
few run for CI, each under an alarm.
"""

from __future__ import annotations

import contextlib
import importlib.util
import signal
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kcourse.elf import mutate_code

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
_spec = importlib.util.spec_from_file_location("fuzz_code_case", BENCH / "fuzz_code_case.py")
fuzz = importlib.util.module_from_spec(_spec)
sys.modules["fuzz_code_case"] = fuzz
_spec.loader.exec_module(fuzz)

POOL = fuzz.targets()
TIME_BOUND = 60  # seconds for one run; a run takes 0.1 s, 2 s with an endless loop
SETTINGS = settings(max_examples=150, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


@contextlib.contextmanager
def time_bound(seconds: int):
    def hang(_signum, _frame):
        raise TimeoutError(f"the run did not end within {seconds} s")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def check(case) -> None:
    with time_bound(TIME_BOUND):
        case.run()
    outcome, detail = case.outcome()
    assert not case.violations, "\n".join(case.violations + case.notes)
    assert outcome in ("panic", "oops", "simulator limit", "refused", "ok"), outcome


def test_the_pool_has_the_course_modules_and_the_fuzz_targets():
    names = {t.name for t in POOL}
    assert {"hello", "kcdev", "baduser", "fuzzdev", "fuzzcalc"} <= names


@SETTINGS
@given(case=st.integers(0, 2**32 - 1))
def test_mutated_module_code_ends_in_output_an_oops_or_one_line(tmp_path, case):
    check(fuzz.make_case(0, case, POOL, tmp_path))


FUNCTIONS = ("fuzzdev_init", "fuzzdev_open", "fuzzdev_read", "fuzzdev_write", "fuzzdev_exit")


@pytest.mark.parametrize("planted", sorted(mutate_code.HOSTILE))
def test_each_hostile_instruction_where_the_kernel_calls_in(tmp_path, planted):
    """Every instruction of the splice table, in place of the first instructions of one of
    fuzzdev's functions (init, open, read, write or exit, in turn), run through the shell."""
    import random

    target = next(t for t in POOL if t.name == "fuzzdev")
    index = sorted(mutate_code.HOSTILE).index(planted)
    code = mutate_code.HOSTILE[planted](random.Random(index))
    data = plant(target.data, index, code)
    case = fuzz.Case(target, f"plant:{planted}", data, tmp_path, kernel_seed=index)
    check(case)  # what each one ends in is tests/test_machine_traps.py's business


def plant(data: bytes, index: int, code: bytes) -> bytes:
    """code in the index-th of FUNCTIONS (in turn), or the next one with room for it."""
    for i in range(len(FUNCTIONS)):
        try:
            return mutate_code.plant(data, FUNCTIONS[(index + i) % len(FUNCTIONS)], code)
        except ValueError:
            continue
    raise ValueError(f"no function of fuzzdev has room for {code.hex()}")
