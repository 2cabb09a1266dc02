"""Record what Debian's real kernel does with the time and deferred-work probes.

    PYTHONPATH=. python scripts/record_sched_real.py [NAME...]

For each probe module tests/data/sched/NAME.c (all of them without arguments) it builds the
module with the real kbuild against the pinned headers (kcourse.build.cell, the build the
tests make on the fly: builds are byte-identical), runs SCRIPTS[NAME] on Debian's
6.1.0-56-amd64 under QEMU (`kcourse sim --real --transcript`, one fresh guest per probe) and
writes the raw transcript, with `#|` provenance lines on top, to tests/data/sched/NAME.real.
tests/test_kapi_sched.py runs the same script on the simulator and compares.

`kcourse sim --real` must send the .ko files the script names to the guest (the lab of the
`lkmpg` branch does); LAB_PYTHONPATH names another checkout's kcourse to run it from.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATA = ROOT / "tests" / "data" / "sched"

# The lines typed for each probe (run in the folder that holds NAME/NAME.ko).
SCRIPTS = {
    "sk_atomic": ["insmod sk_atomic/sk_atomic.ko", "dmesg -c", "rmmod sk_atomic", "dmesg -c",
                  "cat /proc/sys/kernel/tainted"],
    "sk_timer": ["insmod sk_timer/sk_timer.ko", "sleep 3", "dmesg -c", "rmmod sk_timer",
                 "dmesg -c"],
    "sk_tasklet": ["insmod sk_tasklet/sk_tasklet.ko", "dmesg -c", "rmmod sk_tasklet",
                   "dmesg -c"],
    "sk_kthread": ["insmod sk_kthread/sk_kthread.ko", "sleep 1", "dmesg -c",
                   "rmmod sk_kthread", "dmesg -c"],
    "sk_wq": ["insmod sk_wq/sk_wq.ko", "sleep 1", "dmesg -c", "rmmod sk_wq", "dmesg -c"],
    "sk_wait": ["insmod sk_wait/sk_wait.ko", "sleep 1", "dmesg -c", "rmmod sk_wait",
                "dmesg -c"],
    "sk_time": ["insmod sk_time/sk_time.ko", "dmesg -c", "rmmod sk_time"],
    "sk_kthread_oops": ["insmod sk_kthread_oops/sk_kthread_oops.ko", "sleep 1", "dmesg -c",
                        "cat /proc/sys/kernel/tainted", "rmmod sk_kthread_oops", "dmesg -c"],
    "sk_timer_rmmod": ["insmod sk_timer_rmmod/sk_timer_rmmod.ko", "rmmod sk_timer_rmmod",
                       "sleep 2", "dmesg -c"],
    "sk_softirq_sleep": ["insmod sk_softirq_sleep/sk_softirq_sleep.ko", "sleep 1", "dmesg -c",
                         "rmmod sk_softirq_sleep", "dmesg -c"],
    "sk_sleeps": [line for how in range(1, 6) for line in (
                      f"insmod sk_sleeps/sk_sleeps.ko how={how}", "rmmod sk_sleeps")] + [
                  "insmod sk_sleeps/sk_sleeps.ko where=1", "rmmod sk_sleeps", "dmesg -c"] + [
                  line for where in (2, 3, 4) for line in (
                      f"insmod sk_sleeps/sk_sleeps.ko where={where}", "sleep 1",
                      "rmmod sk_sleeps", "dmesg -c")],
    "sk_workoops": ["insmod sk_workoops/sk_workoops.ko", "sleep 1", "dmesg -c",
                    "rmmod sk_workoops", "dmesg -c"],
    # background jobs asleep in a system call: woken, killed in each kind of sleep, and a
    # job holding a file it inherited from the shell (the last close is the job's)
    "sk_jobs": ["insmod sk_jobs/sk_jobs.ko", "cat /proc/sk_jobs > /tmp/out &", "sleep 1",
                "jobs", "cat /tmp/out", "echo 1 > /proc/sk_jobs", "wait", "cat /tmp/out",
                "cat /proc/sk_jobs &", "sleep 1", "kill %1", "wait $!; echo $?",
                "cat /proc/sk_jobs_d &", "sleep 1", "kill %1", "sleep 1", "jobs",
                "echo 1 > /proc/sk_jobs_d", "wait $!; echo $?", "dmesg -c",
                "exec 3</proc/sk_jobs_d", "cat /proc/sk_jobs &", "sleep 1", "exec 3<&-",
                "dmesg -c", "kill %1", "wait $!; echo $?", "dmesg -c", "rmmod sk_jobs",
                "dmesg -c"],
    # background jobs asleep until a timer: msleep, and msleep_interruptible ended by kill
    "sk_jobtime": ["insmod sk_jobtime/sk_jobtime.ko", "cat /proc/sk_jobtime > /tmp/t &",
                   "cat /tmp/t", "sleep 3", "cat /tmp/t", "cat /proc/sk_jobtime > /tmp/t &",
                   "wait", "cat /tmp/t", "cat /proc/sk_jobtime_i &", "sleep 1", "kill %1",
                   "wait $!; echo $?", "cat /proc/sk_jobtime_i & wait", "dmesg -c",
                   "rmmod sk_jobtime"],
}

PROVENANCE = """#| {name}: tests/data/sched/{name}.c built against 6.1.0-56-amd64 and run on
#|   Debian's real 6.1.0-56-amd64 under QEMU (TCG, -smp 1) by scripts/record_sched_real.py, as
#|   `kcourse sim --real --transcript` prints it (timestamps and addresses as they were).
#|   Never written from the simulator's output.
"""


def record(name: str, work: Path) -> None:
    from kcourse.build.cell import build_cell

    built = build_cell(name, (DATA / f"{name}.c").read_text(), base=work)
    if not built.ok:
        raise SystemExit(f"{name}: build failed: {built.problem or built.output}")
    folder = built.folder.parent
    script = folder / f"{name}.sh"
    script.write_text("".join(f"{line}\n" for line in SCRIPTS[name]))
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1",
               PYTHONPATH=os.environ.get("LAB_PYTHONPATH", str(ROOT)))
    run = subprocess.run([sys.executable, "-m", "kcourse.cli", "sim", "--real", "--transcript",
                          script.name], cwd=folder, env=env, capture_output=True, text=True,
                         errors="surrogateescape", timeout=600)
    # A guest that panics gives no transcript, only the lab's one line saying so (stderr)
    text = run.stdout if "$ " in run.stdout else \
        "".join(line + "\n" for line in run.stderr.splitlines() if "panicked" in line)
    if not text:
        raise SystemExit(f"{name}: no transcript: {run.stderr.strip()}")
    (DATA / f"{name}.real").write_text(PROVENANCE.format(name=name) + text,
                                       errors="surrogateescape")
    print(f"{name}: {len(run.stdout.splitlines())} lines", flush=True)


def main(argv: list[str]) -> int:
    names = argv or sorted(SCRIPTS)
    unknown = [n for n in names if n not in SCRIPTS]
    if unknown:
        print(f"record_sched_real: no probe '{unknown[0]}'", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="kcourse-sched-") as tmp:
        for name in names:
            record(name, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
