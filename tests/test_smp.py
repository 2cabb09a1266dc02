"""Two CPUs running racy's and locked's own write() (kcourse.machine.smp).

The expectations do not come from the explorer:
- where racy_write loads and stores racy_counter comes from binutils' objdump -dr of
  racy.ko (the two instructions with a relocation against .bss);
- how many schedules there are, and how many keep both updates, is combinatorics over those
  positions: two CPUs of n steps interleave in C(2n, n) ways, and the counter ends at 2 only
  when one CPU's store comes before the other's load;
- what a read prints is racy.c's and locked.c's interface ("the counter in decimal followed
  by a newline");
- spinlocks and atomics: modules built here with the real kbuild from the C in this file.
The step model (one instruction a step; a call into a kernel function kapi models, one more
step for the function; `call __fentry__` a 5-byte NOP, as ftrace leaves it) is the module
docstring's.
"""

from __future__ import annotations

import random
import re
import shutil
import subprocess
from math import comb
from pathlib import Path

import pytest

from conftest import need, need_tool
from kcourse.errors import KcourseError
from kcourse.machine import smp
from kcourse.paths import data_dir
from kcourse.shell import Shell

MODULES = data_dir() / "modules"


def shell_with(*modules: str) -> Shell:
    sh = Shell()
    for name in modules:
        result = sh.run(f"insmod {name}/{name}.ko")
        assert result.rc == 0, result
    return sh


def objdump_steps(ko: Path, function: str) -> tuple[int, list[int]]:
    """(steps of one call of `function`, the step indices that touch .bss/.data), from
    objdump -dr: each instruction is a step; a call or jmp to an undefined kernel function
    adds one (the function itself; `call __fentry__` is nopped and adds none)."""
    objdump = need_tool("objdump")
    text = subprocess.run([objdump, "-dr", str(ko)], capture_output=True, text=True,
                          check=True).stdout
    body = text.split(f"<{function}>:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    steps, shared = 0, []
    for line in body:
        reloc = re.search(r"R_X86_64_\w+\s+(\S+)", line)
        if reloc:
            target = reloc.group(1).split("-")[0].split("+")[0]
            if target in (".bss", ".data"):
                shared.append(steps - 1)
            elif target != "__fentry__":
                steps += 1  # the kernel function (or the return thunk's ret)
            if target == "__x86_return_thunk":
                break  # the function's one exit; what follows is padding
        elif re.match(r"\s+[0-9a-f]+:\t", line):
            steps += 1
    return steps, shared


def keeps_both(n: int, load: int, store: int) -> int:
    """Schedules of two CPUs of n steps each in which one CPU's store (its step `store`)
    precedes the other's load (its step `load`): the other has done at most `load` steps
    when the first does its store, then the rest interleave freely; times two (either CPU
    first; the two cases exclude each other)."""
    return 2 * sum(comb(store + j, j) * comb(n - store - 1 + n - j, n - j)
                   for j in range(load + 1))


def test_racy_every_schedule_counted_as_combinatorics_says():
    n, shared = objdump_steps(MODULES / "racy" / "racy.ko", "racy_write")
    assert len(shared) == 2, shared  # READ_ONCE and WRITE_ONCE of racy_counter
    load, store = shared
    sh = shell_with("racy")
    with smp.Race(sh.kernel, "/dev/racy") as race:
        explored = race.explore()
    assert explored.steps == [n, n]
    assert explored.schedules == comb(2 * n, n)
    both = keeps_both(n, load, store)
    assert explored.outcomes == {"1\n": comb(2 * n, n) - both, "2\n": both}
    assert explored.deadlocks == 0
    assert sh.run("cat /dev/racy").stdout == "0\n"  # the exploration left the kernel as it was


def test_random_schedules_replayed_lose_exactly_when_loads_overlap():
    n, (load, store) = objdump_steps(MODULES / "racy" / "racy.ko", "racy_write")
    sh = shell_with("racy")
    rng = random.Random(7)
    with smp.Race(sh.kernel, "/dev/racy") as race:
        for _ in range(40):
            order = ["0"] * n + ["1"] * n
            rng.shuffle(order)
            schedule = "".join(order)
            steps = race.replay(schedule)
            assert len(steps) == 2 * n
            position = {}
            for i, cpu in enumerate(schedule):
                position.setdefault(cpu, []).append(i)
            serial = position["0"][store] < position["1"][load] or \
                position["1"][store] < position["0"][load]
            assert race.final == ("2\n" if serial else "1\n"), schedule


def test_locked_loses_no_update_in_any_schedule():
    sh = shell_with("locked")
    n, _ = objdump_steps(MODULES / "locked" / "locked.ko", "locked_write")
    for calls in (1, 2):
        with smp.Race(sh.kernel, "/dev/locked", calls=calls) as race:
            explored = race.explore()
        assert explored.outcomes == {f"{2 * calls}\n": explored.schedules}
        assert explored.deadlocks == 0
        # a CPU that finds the mutex taken sleeps: fewer schedules than free interleaving
        assert 0 < explored.schedules < comb(2 * n * calls, n * calls)
    assert sh.run("cat /dev/locked").stdout == "0\n"


def test_mutex_sleeper_waits_for_the_unlock():
    sh = shell_with("locked")
    with smp.Race(sh.kernel, "/dev/locked") as race:
        steps = race.solo(0)
        at_lock = next(i for i, s in enumerate(steps) if s.text == "call mutex_lock")
        for _ in range(at_lock + 1):  # CPU0 takes the mutex ...
            race.step(0)
        for _ in range(at_lock):  # ... CPU1 comes up to its mutex_lock
            race.step(1)
        assert race.waiting(race.cpus[1]) == "sleeps in mutex_lock()"
        assert race.runnable() == [0]
        while not race.cpus[0].done:
            race.step(0)
        assert race.runnable() == [1]


def test_reentrancy_locals_per_cpu_statics_shared():
    """racy_read on both CPUs: its local `char text[24]` (scnprintf's buffer) lies on each
    CPU's own stack; racy_counter is one address; %gs:0x28 (the stack canary) is read from
    each CPU's own per-cpu area."""
    sh = shell_with("racy")
    with smp.Race(sh.kernel, "/dev/racy", op="read") as race:
        steps = race.replay("01" * 200)
        buffers = {s.cpu: s.args[0] for s in steps if s.text == "call scnprintf"}
        assert set(buffers) == {0, 1} and buffers[0] != buffers[1]
        for cpu in race.cpus:
            assert cpu.stack_base <= buffers[cpu.index] < cpu.stack_top
        counter = {(s.cpu, a.address) for s in steps for a in s.accesses
                   if "racy_counter" in race.describe(a.address)}
        assert {cpu for cpu, _ in counter} == {0, 1}
        assert len({address for _, address in counter}) == 1
        canary = {(s.cpu, a.address) for s in steps if "%gs:0x28" in s.text for a in s.accesses}
        by_cpu = {cpu: address for cpu, address in canary}
        assert by_cpu[1] - by_cpu[0] == smp.PERCPU_STRIDE
        assert race.final == "0\n"


def test_an_echo_and_a_cat_at_once():
    """A writer on CPU 0 and a reader on CPU 1: they share no lock, so every interleaving of
    the two calls is possible, and the write always lands."""
    sh = shell_with("racy")
    with smp.Race(sh.kernel, "/dev/racy", op=("write", "read")) as race:
        explored = race.explore()
        writer, reader = len(race.solo(0)), len(race.solo(1))
        assert [c.comm for c in race.cpus] == ["echo", "cat"]
    assert explored.steps == [writer, reader]
    assert explored.outcomes == {"1\n": comb(writer + reader, writer)}


def test_sampling_racy_sees_both_outcomes():
    sh = shell_with("racy")
    with smp.Race(sh.kernel, "/dev/racy") as race:
        sampled = race.sample(200, seed=1)
    assert sum(sampled.outcomes.values()) == 200
    assert set(sampled.outcomes) == {"1\n", "2\n"}


def test_unfollowed_kernel_call_is_one_line(monkeypatch):
    sh = shell_with("racy")
    monkeypatch.setattr(smp, "ALLOWED", set())
    with smp.Race(sh.kernel, "/dev/racy") as race, pytest.raises(smp.ExploreLimit) as err:
        race.explore()
    message = str(err.value)
    assert "\n" not in message
    assert "racy_write+0x1a" in message and "__const_udelay()" in message
    assert sh.run("cat /dev/racy").stdout == "0\n"


@pytest.mark.parametrize("kwargs, words", [
    (dict(path="/dev/nothere"), "no misc device"),
    (dict(path="/dev/racy", cpus=1), "2 to 4 CPUs"),
    (dict(path="/dev/racy", op="ioctl"), "read or write"),
    (dict(path="/dev/racy", op=("write",)), "one each"),
    (dict(path="/dev/racy", calls=0), "1 or more"),
])
def test_bad_arguments_one_line(kwargs, words):
    sh = shell_with("racy")
    with pytest.raises(KcourseError, match=words):
        smp.Race(sh.kernel, **kwargs)
    assert sh.run("cat /dev/racy").stdout == "0\n"


# ------------------------------------------------------------------ built here: spin, atomic
TWIN = r"""
#include <linux/delay.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/spinlock.h>
#include <linux/atomic.h>

static unsigned long counter;
static atomic_t acounter = ATOMIC_INIT(0);
static DEFINE_SPINLOCK(lock);

static ssize_t twin_write(struct file *f, const char __user *b, size_t n, loff_t *p)
{
#if USE_ATOMIC
	atomic_inc(&acounter);
#else
	unsigned long v;

	spin_lock(&lock);
	v = READ_ONCE(counter);
	udelay(2);
	WRITE_ONCE(counter, v + 1);
	spin_unlock(&lock);
#endif
	return n;
}

static ssize_t twin_read(struct file *f, char __user *b, size_t n, loff_t *p)
{
	char text[24];
	unsigned long v = USE_ATOMIC ? atomic_read(&acounter) : READ_ONCE(counter);
	int len = scnprintf(text, sizeof(text), "%lu\n", v);

	return simple_read_from_buffer(b, n, p, text, len);
}

static const struct file_operations twin_fops = {
	.owner = THIS_MODULE, .write = twin_write, .read = twin_read,
};
static struct miscdevice twin_misc = {
	.minor = MISC_DYNAMIC_MINOR, .name = "twin", .fops = &twin_fops,
};
module_misc_device(twin_misc);
MODULE_LICENSE("GPL");
"""


@pytest.fixture(scope="module")
def twins(tmp_path_factory):
    from kcourse import pin
    from kcourse.build.kbuild import build_module, find_build_tree

    need(shutil.which("make") is not None and shutil.which("gcc-12") is not None,
         "make and gcc-12 build the test modules")
    try:
        find_build_tree(pin.release())
    except KcourseError as err:
        need(False, str(err))
    built = {}
    for name, atomic in (("spin", 0), ("atomic", 1)):
        src = tmp_path_factory.mktemp(name)
        (src / "twin.c").write_text(TWIN)
        (src / "Kbuild").write_text(f"obj-m := twin.o\nccflags-y := -DUSE_ATOMIC={atomic}\n")
        result = build_module(src, pin.release(), out_dir=src)
        built[name] = result.modules[0]
    return built


@pytest.mark.parametrize("variant", ["spin", "atomic"])
def test_spinlock_and_atomic_lose_no_update(twins, variant):
    ko = twins[variant]
    sh = Shell(workdir=str(ko.parent))
    assert sh.run("insmod twin.ko").rc == 0
    with smp.Race(sh.kernel, "/dev/twin") as race:
        explored = race.explore()
        solo = race.solo(0)
    assert explored.outcomes == {"2\n": explored.schedules}
    if variant == "atomic":  # atomic_inc is one `lock incl`: one step, indivisible
        assert any(s.text.startswith("lock inc") for s in solo), [s.text for s in solo]
        n = len(solo)
        assert explored.schedules == comb(2 * n, n)
    else:  # a CPU at spin_lock() of the held lock spins: never chosen until the unlock
        assert any(s.text == "call _raw_spin_lock" for s in solo)
        assert explored.schedules < comb(2 * len(solo), len(solo))


def test_interleavings_is_the_multinomial():
    assert smp.interleavings([2, 2]) == 6
    assert smp.interleavings([15, 15]) == comb(30, 15)
    assert smp.interleavings([1, 1, 1]) == 6


def test_race_chart_bars_are_the_shares():
    from kcourse import charts

    fake = {"racy": smp.Exploration(2, [3, 3], 20, {"1\n": 18, "2\n": 2}, {}, 1, 0.0),
            "locked": smp.Exploration(2, [3, 3], 2, {"2\n": 2}, {}, 1, 0.0)}
    assert charts.race_fractions(fake) == {"racy": {"1": 0.9, "2": 0.1}, "locked": {"2": 1.0}}
    fig = charts.race_chart(fake)
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert heights == [90.0, 10.0, 0, 100.0]


def test_the_lessons_real_recording_is_what_the_real_kernel_shows():
    """data/real/race-smp2.json, recorded by `python -m kcourse.lab.race --record` on the
    two-CPU guest (tests/test_lab_smp.py checks the same on a fresh boot): the pinned kernel,
    locked exact in every run, racy never above the writes made and short at least once."""
    import json

    from kcourse import pin
    from kcourse.lab import race as real_race

    record = json.loads((data_dir() / "real" / real_race.RECORDING).read_text())
    assert record["kernel"] == pin.release()
    races = real_race.recorded()
    assert set(races) == {"racy", "locked"}
    assert all(r.cpus == 2 and len(r.runs) >= 5 for r in races.values())
    assert races["locked"].counts == [races["locked"].expected] * len(races["locked"].runs)
    assert max(races["racy"].counts) <= races["racy"].expected
    assert races["racy"].short_runs >= 1


SLEEPER = r"""
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>

static DEFINE_SPINLOCK(lock0);
static DEFINE_SPINLOCK(lock1);
static DEFINE_MUTEX(big);
static unsigned long counter;

static ssize_t sleeper_write(struct file *f, const char __user *b, size_t n, loff_t *p)
{
	spinlock_t *lock = raw_smp_processor_id() ? &lock1 : &lock0;

	spin_lock(lock);
	mutex_lock(&big);	/* may sleep: a bug under a spinlock */
	counter++;
	mutex_unlock(&big);
	spin_unlock(lock);
	return n;
}

static const struct file_operations sleeper_fops = {
	.owner = THIS_MODULE, .write = sleeper_write,
};
static struct miscdevice sleeper_misc = {
	.minor = MISC_DYNAMIC_MINOR, .name = "sleeper", .fops = &sleeper_fops,
};
module_misc_device(sleeper_misc);
MODULE_LICENSE("GPL");
"""


def test_a_mutex_slept_on_under_a_spinlock_stops_with_the_kernels_bug(tmp_path):
    """Each CPU takes a spinlock of its own (raw_smp_processor_id() reads its per-cpu
    cpu_number), then the shared mutex: in the schedules where the second CPU finds the mutex
    taken it would sleep with preemption off, where the real kernel reports "scheduling while
    atomic" (kernel/sched/core.c __schedule_bug)."""
    from kcourse import pin
    from kcourse.build.kbuild import build_module, find_build_tree

    need(shutil.which("make") is not None and shutil.which("gcc-12") is not None,
         "make and gcc-12 build the test module")
    try:
        find_build_tree(pin.release())
    except KcourseError as err:
        need(False, str(err))
    source = SLEEPER
    (tmp_path / "sleeper.c").write_text(source)
    (tmp_path / "Kbuild").write_text("obj-m := sleeper.o\n")
    build_module(tmp_path, pin.release(), out_dir=tmp_path)
    sh = Shell(workdir=str(tmp_path))
    assert sh.run("insmod sleeper.ko").rc == 0
    with smp.Race(sh.kernel, "/dev/sleeper") as race, pytest.raises(smp.ExploreLimit) as err:
        race.explore()
    assert "BUG: scheduling while atomic" in str(err.value) and "\n" not in str(err.value)
