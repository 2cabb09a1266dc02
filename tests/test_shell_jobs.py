"""kshell's loops and background jobs, against the host's real bash.

The reference is bash 5.2 run as the lab runs it: interactive (`-i`), reading the lines on
stdin, without job control (the lab's bash reads the serial console but has no controlling
terminal, and runs `set +m`: kcourse/lab/guest.py). Each session is a few lines
given to both shells; their stdout, their stderr and the last status must be the same, once
the PID in bash's `[N] PID` notice is masked (tests/scenarios/README.md). Only commands that
touch no kernel are used on the host (echo, true, false, sleep, kill and wait of the session's
own jobs); loops over kmod's tools are in tests/scenarios/lab_loop.sh and lab_jobs.sh,
recorded on Debian's kernel.
"""

import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from conftest import need
from kcourse.lab.compare import normalise
from kcourse.shell import Shell
from kcourse.shell.parser import ForLoop, WhileLoop, parse

# What the host's bash adds and the lab's does not: its start-up lines without a terminal,
# `exit` at the end of input, and a tcsetattr complaint when it reaps a job killed by a
# signal (its stdin is a pipe here, a file in the guest).
BASH_NOISE = ("bash: cannot set terminal process group", "bash: no job control in this shell",
              "exit")
TTY_NOISE = "tcsetattr: Inappropriate ioctl for device"


def real_bash(lines: list[str]) -> tuple[str, str, int]:
    bash = shutil.which("bash")
    need(bash is not None, "bash is not installed")
    script = "PS1= PS2= HISTFILE=; set +m +H\n" + "".join(f"{line}\n" for line in lines)
    script += "echo \"@rc=$?\" >&2\n"
    proc = subprocess.run([bash, "--norc", "--noprofile", "--noediting", "-i"], input=script,
                          capture_output=True, text=True, check=False, cwd="/tmp",
                          env={"PATH": "/usr/bin:/bin", "LC_ALL": "C", "HOME": "/root",
                               "PS1": "", "PS2": ""})
    err_lines = [line for line in proc.stderr.splitlines(True)
                 if not line.rstrip("\n").startswith(BASH_NOISE) and TTY_NOISE not in line]
    rc_line = next(line for line in err_lines if line.startswith("@rc="))
    err_lines.remove(rc_line)
    return proc.stdout, normalise("".join(err_lines)), int(rc_line[4:])


def simulated(lines: list[str]) -> tuple[str, str, int]:
    sh = Shell()
    results = [sh.run(line) for line in lines]
    return ("".join(r.stdout for r in results),
            normalise("".join(r.stderr for r in results)), results[-1].rc)


SESSIONS = [
    ["for i in 1 2 3; do echo $i; done", "echo $i"],
    ["for i in a 'b c' d; do echo \"<$i>\"; done"],
    ["for i; do echo x; done; echo $?", "for i do echo y; done"],
    ["for i in; do echo never; done; echo $?"],
    ["false; for i in a; do true; done; echo $?", "for i in a b; do false; done"],
    ["while false; do echo no; done; echo $?", "until true; do echo no; done"],
    ["until false; do echo once; break; done", "while true; do break; done; echo $?"],
    ["for i in 1 2 3; do continue; echo not; done; echo $i"],
    ["for i in a b; do for j in 1 2; do echo $i$j; break 2; done; done"],
    ["for i in a b; do for j in 1 2; do echo $i$j; continue 2; done; done"],
    ["for i in 1 2 3; do echo $i; break 5; done"],
    ["break", "continue", "for i in a; do break x; done"],
    ["for 1x in a; do echo x; done", "echo $?"],
    ["x=hello; echo $x", "y=\"a b\"; echo $y", "echo for do done in"],
    ["true &", "wait", "false &", "wait $!"],  # (without `wait`: a race, see kcourse.shell.jobs)
    ["echo one & wait"],
    # a job killed on one line and waited for on the next is a race on the host (whether
    # bash has reaped it yet); lab_jobs.sh records the lab's answer. Here: one line.
    ["sleep 5 & kill %1; wait %1"],
    ["sleep 5 & jobs; kill -9 %1; wait %1"],
    ["x=5; sleep \"$x\" || echo 'a  b' & jobs; kill %1; wait %1"],
    ["sleep 5 & kill $!; wait $!"],
    ["sleep 5 & sleep 5 & jobs; kill %1 %2; wait"],
    ["kill %1", "kill %x", "kill abc", "kill 99999", "kill", "kill -FOO 1", "kill -s"],
    ["wait 99999", "wait %3", "wait abc"],
    ["true && echo a & wait", "false || echo b & wait"],
    ["echo a && for i in 1; do echo $i; done || echo no", "for i in 1 2; do echo $i; done | cat"],
    ["for i in $(echo a b) 'c d'; do echo \"[$i]\"; done", "for i in x; do echo $i; done; echo $?"],
    ["for i in 1 2; do false & done; wait; echo $?", "false; true & echo $?"],
    ["for i in a b; do for j in 1 2; do echo $i$j; done; done"],
    ["while false; do :; done & wait $!; echo $?"],
    ["for i in 1 2 3; do true & done; wait"],  # (echo & would race for stdout)
    ["done", "do", "in", "for; do :; done", "while; do :; done", "while true; done",
     "while false; do; done", "for i in a b do echo; done", "for i in a & do :; done",
     "for i in a b; do echo $i; done done", "&", "echo a & & echo b", "echo a; &"],
]


@pytest.mark.parametrize("lines", SESSIONS, ids=[" / ".join(s)[:60] for s in SESSIONS])
def test_same_as_real_bash(lines):
    assert simulated(lines) == real_bash(lines)


def test_unterminated_loop_is_bashs_end_of_file():
    """bash -i waits for `done` on the next line; a script then ends with this error."""
    got = Shell().run("for i in 1 2; do echo $i")
    assert (got.stdout, got.stderr, got.rc) == (
        "", "bash: syntax error: unexpected end of file\n", 2)


def test_unsupported_compound_commands_say_so_and_run_nothing():
    sh = Shell()
    for line in ["for i in 1; do insmod hello/hello.ko; if true; then :; fi; done",
                 "for i in 1; do :; done > /tmp/x"]:
        got = sh.run(line)
        assert got.rc == 2 and got.stderr.startswith("kshell: ") and got.stderr.count("\n") == 1
    assert sh.run("lsmod").stdout == "Module                  Size  Used by\n"


def test_an_endless_loop_is_stopped_in_one_line():
    got = Shell().run("while true; do :; done")
    assert got.rc == 1
    assert got.stderr == ("kshell: loop stopped after 1000 rounds (bash would go on; the "
                          "simulator does not run endless loops)\n")


def test_loop_over_kmod_tools_changes_the_kernel_each_round():
    sh = Shell()
    got = sh.run("for i in 1 2 3; do insmod leaker/leaker.ko; rmmod leaker; done")
    assert got.rc == 0
    assert [line.split(": ", 1)[1] for line in got.dmesg if line.startswith("leaker: ")
            and "taint" not in line] == [
        "kmalloc(4000) done, pointer kept in a static variable",
        "exit without kfree(): 4000 bytes leaked"] * 3


def test_a_killed_job_that_had_run_on_says_so():
    """The simulator runs a job at once: a kill after its later commands ran cannot undo
    them, and says so (never silently wrong)."""
    sh = Shell()
    sh.run("sleep 5 && insmod hello/hello.ko &")
    assert sh.run("lsmod").stdout.count("hello") == 1  # hello was loaded at once
    got = sh.run("kill %1")
    assert got.rc == 0
    assert got.stderr.startswith("kshell: job 1 had already run to its end")
    sh.run("sleep 5 | cat &")  # a pipeline runs at once in bash too: nothing to say
    assert sh.run("kill %1").stderr == ""


def test_parser_tree():
    program = parse("for i in 1 2; do insmod a.ko & done; while false; do :; done &")
    loop = program[0].pipeline.commands[0]
    assert isinstance(loop, ForLoop) and loop.name == "i"
    assert [w.literal() for w in loop.words] == ["1", "2"]
    assert loop.body[0].background
    assert isinstance(program[1].pipeline.commands[0], WhileLoop) and program[1].background


# ---------------------------------------------------------------- jobs asleep in the kernel
# A background job whose system call sleeps in module code (a wait queue) stays running while
# the shell goes on, and runs on when something wakes it. The probe tests/data/sched/sk_jobs.c
# (built here with the real kbuild) has /proc/sk_jobs, whose read sleeps in
# wait_event_interruptible until a write wakes it, and /proc/sk_jobs_d, the same with
# wait_event (TASK_UNINTERRUPTIBLE). Its script (scripts/record_sched_real.py) was recorded on
# Debian's real kernel under QEMU: tests/data/sched/sk_jobs.real.

SCHED = Path(__file__).resolve().parent / "data" / "sched"


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    from kcourse.build.cell import build_cell

    base = tmp_path_factory.mktemp("jobs")

    def build(name: str) -> Path:
        built = build_cell(name, (SCHED / f"{name}.c").read_text(), base=base)
        need(built.ok, built.problem or built.output)
        return built.folder.parent

    return build


@pytest.fixture(scope="module")
def sk_jobs(probe):
    return probe("sk_jobs")


@pytest.fixture
def shell(sk_jobs):
    opened = []

    def make(folder=None):
        sh = Shell(workdir=str(folder or sk_jobs))
        opened.append(sh)
        return sh

    yield make
    before = threading.active_count()
    for sh in opened:
        sh.close()  # jobs still asleep end: no thread of theirs outlives the test
    assert threading.active_count() <= before


def _transcript(sh: Shell, lines: list[str]) -> list[str]:
    from kcourse.backend import format_transcript

    return normalise(format_transcript([sh.run(line) for line in lines])).splitlines()


@pytest.mark.parametrize("name", ["sk_jobs", "sk_jobtime"])
def test_probe_transcript_is_the_real_kernels(shell, probe, name):
    """sk_jobs: woken by a write (the woken cat runs before the writer's close, as on the
    real kernel), killed in an interruptible sleep (-ERESTARTSYS, status 143), killed in an
    uninterruptible one (it sleeps on until woken, then dies), and holding a file it
    inherited (the last close, and so the release, is the job's). sk_jobtime: woken by its
    msleep's timer while the shell sleeps or waits, and msleep_interruptible ended by kill."""
    sys.path.insert(0, str(SCHED.parents[2] / "scripts"))
    from record_sched_real import SCRIPTS

    real = [line for line in (SCHED / f"{name}.real").read_text().splitlines()
            if not line.startswith("#|")]
    got = _transcript(shell(probe(name)), SCRIPTS[name])
    assert got == normalise("\n".join(real)).splitlines()


def test_wait_for_a_job_nothing_wakes_says_so_in_one_line(shell):
    """bash's wait would never return (wait.def waits for the child); the simulator says why
    in one line, status 1, and the job is still running: kill ends it (an interruptible
    sleep: prepare_to_wait_event sees the signal, kernel/sched/wait.c)."""
    sh = shell()
    sh.run("insmod sk_jobs/sk_jobs.ko")
    sh.run("cat /proc/sk_jobs &")
    got = sh.run("wait")
    assert got.rc == 1
    assert re.fullmatch(
        r"kcourse: wait: job 1 \(cat /proc/sk_jobs\) sleeps in schedule\(\) at "
        r"sk_read\S*\+0x[0-9a-f]+/0x[0-9a-f]+ \[sk_jobs\] and nothing wakes it: bash would "
        r"wait for it for good; the simulator stops waiting \(kill %1 ends it\)\n", got.stderr)
    assert sh.run("jobs").stdout == "[1]+  Running                 cat /proc/sk_jobs &\n"
    assert sh.run("kill %1").rc == 0
    got = sh.run("wait $!; echo $?")
    assert (got.stdout, got.stderr) == ("143\n", "")
    assert any("cat woke: ret -512" in line for line in sh.run("dmesg").stdout.splitlines())


def test_an_uninterruptible_sleeper_outlives_kill(shell):
    """TASK_UNINTERRUPTIBLE: signal_wake_up wakes TASK_INTERRUPTIBLE | TASK_WAKEKILL sleeps
    only (include/linux/sched/signal.h), so not even SIGKILL ends it; it dies when woken."""
    sh = shell()
    sh.run("insmod sk_jobs/sk_jobs.ko")
    sh.run("cat /proc/sk_jobs_d > /tmp/out &")
    assert sh.run("kill -9 %1").rc == 0
    got = sh.run("wait %1")
    assert got.rc == 1 and got.stderr.count("\n") == 1
    assert "(not even kill -9 ends it: it sleeps in TASK_UNINTERRUPTIBLE" in got.stderr
    sh.run("echo 1 > /proc/sk_jobs_d")
    got = sh.run("wait $!; echo $?; cat /tmp/out")
    assert got.stdout == "137\n"  # killed by SIGKILL before it wrote what it read


def test_a_job_holding_the_file_it_waits_for_never_wakes(shell):
    """LKMPG's sleep without `3<&-`: the background cat inherits fd 3 (fork), so the shell's
    `exec 3<&-` is not the last close, module_close does not run, and cat sleeps for ever
    (data/lkmpg/sleep/script.sh says why it closes fd 3). Killed, its copy goes and the
    file is released: the next cat opens at once."""
    sh = shell(Path(__file__).resolve().parent.parent / "data" / "lkmpg")
    for line in ["insmod sleep/sleep.ko", "exec 3</proc/sleep", "cat /proc/sleep > /tmp/o &",
                 "exec 3<&-"]:
        assert sh.run(line).rc == 0
    got = sh.run("wait")
    assert got.rc == 1 and "job 1 (cat /proc/sleep > /tmp/o) sleeps in schedule() at " \
        "module_open+0xc0/0x130 [sleep] and nothing wakes it" in got.stderr
    sh.run("kill %1")
    got = sh.run("wait $!; echo $?; cat /proc/sleep")
    assert (got.stdout, got.stderr) == ("143\nLast input:\n", "")


def test_a_job_asleep_at_the_end_is_ended_by_close(shell):
    sh = shell()
    sh.run("insmod sk_jobs/sk_jobs.ko")
    sh.run("exec 3</proc/sk_jobs_d")
    sh.run("cat /proc/sk_jobs &")
    sh.run("exec 3<&-")
    sh.close()
    assert not sh.jobs.asleep()
    log = sh.run("dmesg").stdout
    assert log.rstrip().endswith("sk_jobs: release by cat")  # its inherited copy, at exit
    assert sh.run("rmmod sk_jobs").rc == 0


def test_rmmod_while_a_job_sleeps_in_the_module_says_so(shell):
    """proc_entry_rundown waits for callers inside the file's operations (fs/proc/inode.c):
    the real rmmod would hang in the module's exit; the simulator stops there in one line
    (the module left GOING with its refcount -1, as the hung rmmod leaves it)."""
    sh = shell()
    sh.run("insmod sk_jobs/sk_jobs.ko")
    sh.run("cat /proc/sk_jobs &")
    got = sh.run("rmmod sk_jobs")
    stop, note = got.stderr.splitlines()  # the stop, and that it cut the exit off mid-call
    assert got.rc == 1
    assert stop.startswith("kcourse: sk_jobs removes /proc/sk_jobs_d while cat (pid ")
    assert "rmmod would hang until that sleep ends" in stop
    assert note.startswith("kcourse: note: the stop cut sk_jobs off mid-call")
    assert "sk_jobs                16384  -1" in sh.run("lsmod").stdout


def test_two_jobs_asleep_on_one_queue_each_get_the_file_in_turn(shell):
    """LKMPG's sleep: closing fd 3 wakes every waiter (wake_up, not exclusive); one takes the
    file, the other finds already_open set and sleeps again until that one closes it
    (module_close wakes it). Each job is a task of its own, with the pid bash printed."""
    sh = shell(Path(__file__).resolve().parent.parent / "data" / "lkmpg")
    for line in ["insmod sleep/sleep.ko", "echo two > /proc/sleep", "exec 3</proc/sleep"]:
        sh.run(line)
    first = sh.run("cat /proc/sleep 3<&- > /tmp/a &").stderr
    second = sh.run("cat /proc/sleep 3<&- > /tmp/b &").stderr
    assert (first, second) == ("[1] 2000\n", "[2] 2001\n")
    asleep = sh.jobs.asleep()
    assert [j.task.own_current() for j in asleep] == [(2000, "cat"), (2001, "cat")]
    assert asleep[0].task.task != asleep[1].task.task  # two task_structs on the queue
    got = sh.run("wait %2")
    assert "cat (pid" not in got.stderr and "job 2 (cat /proc/sleep 3>&- > /tmp/b) sleeps" \
        in got.stderr
    sh.run("exec 3<&-")
    got = sh.run("wait; cat /tmp/a /tmp/b")
    assert (got.stdout, got.stderr, got.rc) == ("Last input:two\n\n" * 2, "", 0)


def test_a_foreground_sleep_a_ready_job_would_end_says_so(shell, probe):
    """The job (msleep, then a write that wakes /proc/sk_jobs's reader) is ready while the
    foreground cat sleeps; the simulator resumes a job only between system calls, so the
    foreground sleep stops with one line naming that job, not "nothing will wake it"."""
    probe("sk_jobtime")
    sh = shell()
    sh.run("insmod sk_jobs/sk_jobs.ko")
    assert sh.run("insmod sk_jobtime/sk_jobtime.ko").rc == 0
    sh.run("cat /proc/sk_jobtime > /proc/sk_jobs &")
    got = sh.run("cat /proc/sk_jobs")
    stop, note = got.stderr.splitlines()  # the stop, and that it cut the read off mid-call
    assert got.rc == 1
    assert "while a background job (`cat /proc/sk_jobtime > /proc/sk_jobs`) that may wake it " \
        "is ready to run" in stop
    assert note.startswith("kcourse: note: the stop cut sk_jobs off mid-call")
    assert sh.run("wait").rc == 0
