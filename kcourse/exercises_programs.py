"""The course's programming exercises: `program(id)` returns one (a ModuleExercise).

The C lives in data/exercises/<module>/skeleton.c and solution.c. Each judge checks what the
task statement asks the module to make the kernel show; none compares with a run of the
solution. Where a rule comes from the kernel or kmod, the comment names the file.
"""

from __future__ import annotations

from kcourse.exercises_code import ModuleExercise, Outcome, logged, said
from kcourse.paths import data_dir


def _c(module: str, which: str) -> str:
    return (data_dir() / "exercises" / module / f"{which}.c").read_text()


def _file(module: str, name: str) -> str:
    return (data_dir() / "exercises" / module / name).read_text()


def _pair(*modules: str) -> tuple[dict[str, str], dict[str, str]]:
    return ({m: _c(m, "skeleton") for m in modules}, {m: _c(m, "solution") for m in modules})


def _printed(outcome: Outcome, text: str) -> bool:
    """A dmesg line that is `text`, with or without pr_fmt's "module: " prefix."""
    return any(line == text or line.endswith(f": {text}") for line in outcome.dmesg())


def _loaded(outcome: Outcome) -> str:
    """'' if every insmod worked, else what the first failing one said."""
    for result in outcome.results:
        if result.line.startswith("insmod") and result.rc != 0:
            return f"{said(result)} (exit status {result.rc}); {logged(outcome)}"
    return ""


# --- 01: the exit path must free what init allocated -----------------------------------------

LEAK_SCRIPT = "\n".join(["insmod leakfix.ko", "rmmod leakfix"] * 3)


def judge_leak(outcome: Outcome, kernel) -> tuple[bool, str]:
    problem = _loaded(outcome) or (said(outcome.failed()) if outcome.failed() else "")
    if problem:
        return False, problem
    loads = [line for line in outcome.dmesg() if line.endswith("buffer allocated")]
    if len(loads) != 3:
        return False, ("the task keeps the kmalloc in init, which prints \"buffer allocated\" "
                       f"at each of the 3 loads; {logged(outcome)}")
    if kernel is None:
        return True, "(the memory ledger is the simulator's: on the real kernel dmesg is judged)"
    allocs = [e for e in kernel.memory.history if e.op == "alloc" and e.owner == "leakfix"]
    held = kernel.memory.held_by("leakfix")
    if len(allocs) < 3:
        return False, f"init should kmalloc at every load: the ledger saw {len(allocs)} kmalloc(s)"
    if held:
        return False, (f"after 3 insmod/rmmod cycles the kernel still holds {held} bytes that "
                       "leakfix allocated; asked for 0")
    return True, f"3 cycles, {len(allocs)} allocations, 0 bytes left."


# --- 01: copy_to_user instead of a direct write to user memory -------------------------------

USERREAD_SCRIPT = "insmod userread.ko\ncat /dev/userread\nrmmod userread"
USERREAD_LINE = "hello from userread"


def judge_userread(outcome: Outcome, kernel) -> tuple[bool, str]:
    problem = _loaded(outcome)
    if problem:
        return False, problem
    cat = outcome.of("cat /dev/userread")
    if cat is None or cat.rc != 0 or cat.stdout != USERREAD_LINE + "\n":
        oops = [x for x in outcome.dmesg() if "BUG:" in x or "#PF" in x or "Oops" in x]
        why = f"; the kernel logged {' | '.join(oops[:2])!r}" if oops else ""
        return False, f"asked for cat to print {USERREAD_LINE!r}: {said(cat)}{why}"
    return True, "cat printed the line, and no oops."


# --- 02: a parameter and the MODULE_* tags ---------------------------------------------------

COUNT_SCRIPT = """insmod countparm.ko count=5
cat /sys/module/countparm/parameters/count
modinfo countparm.ko
rmmod countparm"""


def judge_count(outcome: Outcome, kernel) -> tuple[bool, str]:
    problem = _loaded(outcome)
    if problem:
        return False, problem
    if not _printed(outcome, "count=5"):
        return False, f"insmod countparm.ko count=5 should print \"count=5\"; {logged(outcome)}"
    sysfs = outcome.of("cat /sys/module/countparm/parameters/count")
    if sysfs is None or sysfs.stdout != "5\n":
        return False, f"/sys/module/countparm/parameters/count should read 5: {said(sysfs)}"
    info = outcome.of("modinfo").stdout if outcome.of("modinfo") else ""
    fields: dict[str, list[str]] = {}
    for line in info.splitlines():  # kmod's modinfo: "field:" padded to 16 columns
        key, _, value = line.partition(":")
        fields.setdefault(key, []).append(value.strip())
    parms = [p for p in fields.get("parm", []) if p.startswith("count:")]
    missing = [f for f in ("author", "description") if not any(fields.get(f, []))]
    if missing:
        return False, f"modinfo shows no {' and no '.join(missing)} line: add MODULE_" \
                      f"{missing[0].upper()}(...)"
    if fields.get("license") != ["GPL"]:
        return False, f"modinfo's license line should be GPL: it shows {fields.get('license')}"
    # kmod's modinfo prints "parm: NAME:DESC (TYPE)", or "NAME:TYPE" without MODULE_PARM_DESC
    # (tools/modinfo.c modinfo_params_do)
    if not parms or not parms[0].endswith(" (int)"):
        return False, ("modinfo should show `parm: count:<description> (int)` "
                       f"(module_param with int and MODULE_PARM_DESC): it shows {parms}")
    return True, f"dmesg: count=5; modinfo: parm {parms[0]!r}."


# --- 02: __init and __exit put the code in .init.text and .exit.text --------------------------

INITEXIT_SCRIPT = "insmod initexit.ko\nrmmod initexit"


def judge_initexit(outcome: Outcome, kernel) -> tuple[bool, str]:
    problem = _loaded(outcome)
    if problem:
        return False, problem
    if not (_printed(outcome, "started") and _printed(outcome, "stopped")):
        return False, f"load and unload should print \"started\" and \"stopped\"; " \
                      f"{logged(outcome)}"
    from kcourse.elf.kofile import KoFile

    ko = KoFile(outcome.folder / "initexit.ko")
    # include/linux/init.h: __init is __section(".init.text"), __exit __section(".exit.text");
    # module_init() makes init_module an alias of the function (include/linux/module.h)
    where = {s.name: s.section for s in ko.symbols
             if s.name in ("init_module", "cleanup_module", "initexit_start", "initexit_stop")}
    wrong = [f"{name} is in {where.get(name)}, not {want}" for name, want in (
        ("init_module", ".init.text"), ("cleanup_module", ".exit.text"))
        if where.get(name) != want]
    if wrong:
        return False, "objdump -t shows " + "; ".join(wrong)
    return True, "init_module is in .init.text and cleanup_module in .exit.text."


# --- 03: export a function; a second module uses it ------------------------------------------

EXPORT_SCRIPT = """insmod exprov/exprov.ko
insmod excons/excons.ko
lsmod
rmmod exprov
rmmod excons
rmmod exprov"""


def judge_export(outcome: Outcome, kernel) -> tuple[bool, str]:
    problem = _loaded(outcome)
    if problem:
        return False, problem
    if not _printed(outcome, "twice 21 is 42"):
        return False, f"excons should print \"twice 21 is 42\"; {logged(outcome)}"
    lsmod = outcome.of("lsmod")
    row = next((line.split() for line in (lsmod.stdout if lsmod else "").splitlines()
                if line.split()[:1] == ["exprov"]), [])
    # kernel/module/procfs.c & kmod's lsmod: "name size refcnt users,..."
    if row[2:4] != ["1", "excons"]:
        return False, f"lsmod should show exprov used by 1: excons; its line is {' '.join(row)!r}"
    refused = outcome.of("rmmod exprov")
    if refused is None or refused.rc == 0 or "in use by: excons" not in refused.stderr:
        return False, f"rmmod exprov should be refused while excons uses it: {said(refused)}"
    last = outcome.of("rmmod exprov", 1)
    if last is None or last.rc != 0:
        return False, f"once excons is gone, rmmod exprov should work: {said(last)}"
    return True, "lsmod: exprov used by excons; rmmod exprov refused until excons left."


# --- 04: a flag from kbuild ------------------------------------------------------------------

GREET_SCRIPT = "insmod greet.ko\nrmmod greet"


def judge_greet(outcome: Outcome, kernel) -> tuple[bool, str]:
    problem = _loaded(outcome)
    if problem:
        return False, problem
    if not _printed(outcome, "hello from kbuild"):
        return False, f"greet should print \"hello from kbuild\"; {logged(outcome)}"
    return True, "the greeting came from the build."


# --- 04: one module from two C files --------------------------------------------------------

TWOFILE_SCRIPT = "insmod twofile.ko\nrmmod twofile"


def judge_twofile(outcome: Outcome, kernel) -> tuple[bool, str]:
    problem = _loaded(outcome) or (said(outcome.failed()) if outcome.failed() else "")
    if problem:
        return False, problem
    if not _printed(outcome, "2 + 3 = 5"):
        return False, f"twofile should print \"2 + 3 = 5\" at load; {logged(outcome)}"
    from kcourse.elf.kofile import KoFile

    ko = KoFile(outcome.folder / "twofile.ko")
    # each object's symbol table starts with its source file's STT_FILE symbol, which ld keeps
    # in the module (objdump -t: "df *ABS*  ... main.c"); the .mod.c is twofile.mod.c
    files = sorted(s.name for s in ko.symbols if s.type == "FILE" and s.name != "twofile.mod.c")
    functions = {s.name: s.section for s in ko.symbols if s.type == "FUNC"}
    if files != ["main.c", "util.c"]:
        return False, f"objdump -t of twofile.ko should name main.c and util.c: it names {files}"
    if functions.get("twofile_sum") != ".text":
        return False, ("twofile_sum (from util.c) should be defined in twofile.ko's .text: "
                       f"it is {functions.get('twofile_sum') or 'not there'}")
    return True, "twofile.ko holds main.c and util.c; init called util.c's twofile_sum."


# --- 05: init that fails cleanly, undoing its steps ------------------------------------------

UNWIND_SCRIPT = """insmod unwind.ko fail=1
ls /dev/unwind
insmod unwind.ko
ls /dev/unwind
rmmod unwind"""
# kmod's insmod (tools/insmod.c): ERR("could not insert module %s: %s\n", filename,
# mod_strerror(-err)); -ENODEV is strerror's "No such device"
UNWIND_REFUSED = "insmod: ERROR: could not insert module unwind.ko: No such device"


def judge_unwind(outcome: Outcome, kernel) -> tuple[bool, str]:
    first, second = outcome.of("insmod unwind.ko fail=1"), outcome.of("insmod unwind.ko", 1)
    if first is None or first.rc == 0 or first.stderr.strip() != UNWIND_REFUSED:
        return False, (f"with fail=1 init must return step 3's -ENODEV, so that insmod says "
                       f"{UNWIND_REFUSED!r}: {said(first)}")
    steps = [line for line in first.dmesg if line.endswith(("buffer allocated",
                                                              "device registered"))]
    if len(steps) != 2:
        return False, ("steps 1 and 2 run before step 3 fails (\"buffer allocated\", "
                       f"\"device registered\"): that insmod logged {list(first.dmesg)}")
    gone = outcome.of("ls /dev/unwind")
    if gone is None or gone.rc == 0:
        return False, (f"after the failed insmod /dev/unwind should be gone: {said(gone)}; the "
                       "error path must misc_deregister what step 2 registered")
    if second is None or second.rc != 0:
        return False, f"the load without fail=1 should work: {said(second)}; {logged(outcome)}"
    there, rmmod = outcome.of("ls /dev/unwind", 1), outcome.of("rmmod unwind")
    if there is None or there.rc != 0:
        return False, f"while unwind is loaded /dev/unwind should exist: {said(there)}"
    if rmmod is None or rmmod.rc != 0:
        return False, f"rmmod unwind should work: {said(rmmod)}"
    if kernel is None:
        return True, ("(the memory ledger is the simulator's: on the real kernel insmod's error "
                      "and /dev are judged)")
    held = kernel.memory.held_by("unwind")
    if held:
        return False, (f"after the failed insmod and one load and unload the kernel still holds "
                       f"{held} bytes that unwind allocated; asked for 0 (the error path must "
                       "kfree step 1's buffer)")
    return True, "insmod failed with No such device, /dev/unwind was gone, 0 bytes left, and " \
                 "the next load worked."


EXTRA_SYMBOLS = "KBUILD_EXTRA_SYMBOLS := $(src)/../exprov/Module.symvers"


# --- 01: a mutex so that two writers on two CPUs lose no update ----------------------------

MUTEX_SCRIPT = "insmod mutexfix.ko\necho 1 > /dev/mutexfix\ncat /dev/mutexfix\nrmmod mutexfix"


def judge_mutex(outcome: Outcome, kernel) -> tuple[bool, str]:
    problem = _loaded(outcome)
    if problem:
        return False, problem
    cat = outcome.of("cat /dev/mutexfix")
    if cat is None or cat.rc != 0 or cat.stdout != "1\n":
        return False, f"after one write, cat /dev/mutexfix should print 1: {said(cat)}"
    unload = outcome.of("rmmod mutexfix")
    if unload is None or unload.rc != 0:
        return False, f"rmmod mutexfix should work: {said(unload)}"
    from kcourse.elf.kofile import KoFile

    # the task asks for a mutex: mutex_lock() and friends are calls into kernel/locking/mutex.c
    # (an atomic_t or a spinlock would count correctly too, but is not what was asked)
    if not set(KoFile(outcome.folder / "mutexfix.ko").undefined_symbols) & {
            "mutex_lock", "mutex_lock_interruptible", "mutex_lock_killable"}:
        return False, "the task asks for a mutex: mutexfix.ko calls no mutex_lock()"
    if kernel is None:
        return True, ("(the two-CPU exploration is the simulator's; on the real kernel "
                      "kcourse.lab.race runs two writers at once on racy and locked)")
    from kcourse.kernel import Kernel
    from kcourse.machine import smp
    from kcourse.shell import Shell

    # loaded again, one write, then two more writers, one per CPU, in every schedule
    # (kcourse.machine.smp): each must count
    shell = Shell(Kernel(seed=0), workdir=str(outcome.folder.resolve()))
    for line in ("insmod mutexfix.ko", "echo 1 > /dev/mutexfix"):
        shell.run(line)
    try:
        with smp.Race(shell.kernel, "/dev/mutexfix") as race:
            explored = race.explore()
    except smp.ExploreLimit as err:
        if "alone sleeps in mutex_lock" in str(err):
            return False, ("after the first write returned, a writer on another CPU sleeps in "
                           "mutex_lock() for good: the mutex is never released")
        return False, str(err).removeprefix("kcourse: ")
    if explored.deadlocks:
        return False, (f"in {explored.deadlocks:,} of {explored.schedules:,} schedules of two "
                       "writers both CPUs wait for good: is the mutex released on every path?")
    wrong = {out.strip(): n for out, n in explored.outcomes.items() if out != "3\n"}
    if wrong:
        value, count = max(wrong.items(), key=lambda item: item[1])
        example = explored.examples[value + "\n"]
        return False, (f"two more writers, one on each CPU: {explored.lost('3'):,} of "
                       f"{explored.schedules:,} schedules end with the count at {value}, not 3 "
                       f"(an update lost; e.g. schedule {example}: smp.Race(...).replay it)")
    return True, (f"all {explored.schedules:,} schedules of two writers on two CPUs end at 3; "
                  "the second writer waits in mutex_lock() until the first unlocks.")


def _catalog() -> dict[str, dict]:
    return {
        "uvk.mutex": dict(
            module="mutexfix", task="Make the counter's update a critical section with a mutex.",
            script=MUTEX_SCRIPT, judge=judge_mutex,
            hint="DEFINE_MUTEX(mutexfix_lock); at file scope; mutex_lock(&mutexfix_lock); before "
                 "the read, mutex_unlock(&mutexfix_lock); after the write-back."),
        "uvk.leak-fix": dict(
            module="leakfix", task="Free in exit what init allocated.", script=LEAK_SCRIPT,
            judge=judge_leak,
            hint="kfree() takes the pointer kmalloc() returned; it is kept in leakfix_buf."),
        "uvk.copy-to-user": dict(
            module="userread", task="Copy to user space with copy_to_user().",
            script=USERREAD_SCRIPT, judge=judge_userread,
            hint="copy_to_user(to, from, n) returns how many bytes it could NOT copy: 0 is "
                 "success."),
        "structure.count-param": dict(
            module="countparm", task="An int parameter and the MODULE_* tags.",
            script=COUNT_SCRIPT, judge=judge_count,
            hint="module_param(count, int, 0444); MODULE_PARM_DESC(count, \"...\"); "
                 "pr_info(\"count=%d\\n\", count);"),
        "structure.init-exit": dict(
            module="initexit", task="Mark the entry points __init and __exit.",
            script=INITEXIT_SCRIPT, judge=judge_initexit,
            hint="The marks go between the return type and the name: "
                 "static int __init name(void)."),
        "internals.export": dict(
            modules=("exprov", "excons"), task="Export a function; use it from a second module.",
            script=EXPORT_SCRIPT, judge=judge_export, kbuild={"excons": [EXTRA_SYMBOLS]},
            hint="EXPORT_SYMBOL(exprov_twice); after the function in exprov.c, and the "
                 "prototype int exprov_twice(int x); in excons.c."),
        "compile.ccflags": dict(
            module="greet", task="Pass a define from kbuild.", script=GREET_SCRIPT,
            judge=judge_greet,
            solution_kbuild={"greet": ["ccflags-y := -DGREETING='\"hello from kbuild\"'"]},
            hint="ccflags-y adds flags for every C file this Kbuild file compiles (here only "
                 "greet.c); make hands the line to the shell, so keep the C string's double "
                 "quotes inside single ones."),
        "compile.two-files": dict(
            module="twofile", task="One module from two C files.", script=TWOFILE_SCRIPT,
            judge=judge_twofile, files={"twofile": "main.c"},
            given={"twofile": {"util.c": _file("twofile", "util.c")}},
            solution_kbuild={"twofile": ["obj-m := twofile.o", "twofile-y := main.o util.o"]},
            hint="obj-m names the module (twofile.o, for twofile.ko); twofile-y lists the "
                 "objects it is linked from. The prototype is the first line of util.c's "
                 "function, ending in a ;."),
        "lab.init-unwind": dict(
            module="unwind", task="Undo init's steps when a later one fails.",
            script=UNWIND_SCRIPT, judge=judge_unwind,
            hint="Put the labels after `return 0;`, the last step's first: `deregister:` "
                 "misc_deregister(&unwind_misc); then `free_buf:` kfree(unwind_buf); return "
                 "err;. Each failure jumps to the label of the step before it."),
    }


def program(exercise_id: str) -> ModuleExercise:
    """The course's programming exercise `exercise_id`."""
    spec = dict(_catalog()[exercise_id])
    modules = spec.pop("modules", None) or (spec["module"],)
    skeleton, solution = _pair(*modules)
    if len(modules) == 1:
        skeleton, solution = skeleton[modules[0]], solution[modules[0]]
    return ModuleExercise(exercise_id, spec.pop("task"), skeleton, solution, spec.pop("script"),
                          spec.pop("judge"), spec.pop("hint"), **spec)


def program_ids() -> list[str]:
    return list(_catalog())
