"""Every tool output a lesson shows, produced again by the real tool and compared.

Issue 16's rule: a line shown as a tool's output comes from that tool (run by this test), or
it is marked as the model's. For each lesson this file reruns what the lesson shows:

- 01: the simulator's sessions on Debian's kernel under QEMU; the builds of data/experiments
  (gcc, modpost); the real-kernel recordings of data/real; racy.ko's `objdump -t`, and
  racy_write's instructions (`objdump -dr`) against the two-CPU explorer's steps.
- 02: binutils' objdump and kmod's modinfo on the same files; the simulator's session under
  QEMU; gplviolator's and lookup's real builds; the /proc/kallsyms recording.
- 03: every `%%kshell` cell, in order, on one freshly booted real kernel.
- 04: kmod's depmod on the three course modules; the modpost error quoted without
  KBUILD_EXTRA_SYMBOLS; the build model's summaries are marked as the model's; the twofile
  exercise's `objdump -t`.
- 05: its real-kernel sessions are live under QEMU (nbval) and recorded
  (tests/test_lab_differential.py compares simulator and recording); its `%%kshell --real`
  cells, which nbval skips, replayed on one boot; what the unwind exercise says its skeleton
  does on the real kernel (`File exists`, sysfs's duplicate-filename warning).
- data/modules/*.c, printed in lessons 01-03: the tool messages their comments quote (modpost
  without MODULE_IMPORT_NS), and what they say of Debian's kernel (`rmmod -f`, preemption).

Stored outputs are compared after kcourse.lab.compare.normalise (addresses, dmesg timestamps),
the two things that differ from run to run. Tests skip without the tool they need (CI sets
KCOURSE_REQUIRE_REAL=1: then a missing tool fails).
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

from kcourse.backend import format_transcript
from kcourse.build import experiments
from kcourse.errors import KcourseError
from kcourse.lab import recorded
from kcourse.lab.compare import normalise
from kcourse.paths import course_module, data_dir, notebooks_dir
from tests.conftest import need, need_tool

L01 = "01-User-Space-vs-Kernel-Space.ipynb"
L02 = "02-Kernel-Module-Structure.ipynb"
L03 = "03-Module-Internals.ipynb"
L04 = "04-Kernel-and-Module-Compilation.ipynb"
L05 = "05-Lab-A-Real-Kernel.ipynb"


def _cells(lesson: str) -> dict:
    nb = nbformat.read(notebooks_dir() / lesson, as_version=4)
    return {cell.get("id"): cell for cell in nb.cells}


def stored(lesson: str, cell_id: str) -> str:
    """The text a code cell printed, as stored in the notebook."""
    cell = _cells(lesson)[cell_id]
    return "".join(out.get("text", "") for out in cell.get("outputs", []))


def source(lesson: str, cell_id: str) -> str:
    return _cells(lesson)[cell_id].source


def run_script_of(lesson: str, cell_id: str) -> str:
    """The shell lines a `run('''...''')` cell passes to the simulator."""
    found = re.search(r"run\((?:'''|\"\"\")\n(.*?)(?:'''|\"\"\")", source(lesson, cell_id), re.S)
    assert found, f"{lesson} {cell_id}: no run('''...''') in the cell"
    return found.group(1)


# --- the real kernel ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def real_kernel():
    need_tool("qemu-system-x86_64")
    from kcourse.lab import RealKernel, prepare_lab

    try:
        lab = prepare_lab()
    except KcourseError as err:
        need(False, f"the real-kernel lab cannot be prepared: {err}")
    return RealKernel(lab=lab, timeout=240)


LESSON_01_SESSIONS = {        # cell id -> the experiment modules the session loads
    "72c0c3e2": (),           # kcdev: init, open/read/release, exit
    "294b4348": (),           # provider/consumer/kcdev references
    "t01-noexit": (),         # a module without exit: [permanent], EBUSY
    "t01-forced": ("printf_forced",),   # a module with an undefined puts
    "8bc00a19": (),           # baduser: the transcript part (the oops: data/real/oops)
}


@pytest.mark.parametrize("cell_id", list(LESSON_01_SESSIONS))
def test_lesson_01_sessions_are_the_real_kernels(real_kernel, cell_id):
    files = {f"{e}/{e}.ko": experiments.get(e).ko for e in LESSON_01_SESSIONS[cell_id]}
    real = real_kernel.run_script(run_script_of(L01, cell_id), files=files)
    assert normalise(format_transcript(real)) in normalise(stored(L01, cell_id))


def test_lesson_01_stackhog_lines_are_the_real_kernels():
    """The simulator's stackhog lines (cell a779cac4) against the real kernel's recording,
    with the hashed pointers (%p) masked."""
    hashed = re.compile(r"\b[0-9a-f]{16}\b")
    shown = stored(L01, "a779cac4").splitlines()[1:4]
    real = [line.removeprefix("[TIME] ") for line in recorded.expected("stackhog").splitlines()]
    for line in shown:
        assert any(hashed.sub("P", line) == hashed.sub("P", r) for r in real), line


def test_lesson_02_session_is_the_real_kernels(real_kernel):
    lines = ast.literal_eval(re.search(r"for line in (\[.*?\]):", source(L02, "dec9cde8"),
                                       re.S).group(1))
    real = real_kernel.run_script(lines)
    text = "".join(f"$ {r.line}\n{r.stdout}{r.stderr}" for r in real)
    assert normalise(text) == normalise(stored(L02, "dec9cde8"))


def kshell_cells(lesson: str, magic: str = "%%kshell") -> list[tuple[str, str]]:
    nb = nbformat.read(notebooks_dir() / lesson, as_version=4)
    return [(cell.id, cell.source.split("\n", 1)[1]) for cell in nb.cells
            if cell.cell_type == "code" and cell.source.startswith(magic + "\n")]


def replay_on_one_boot(real_kernel, lesson: str, cells: list[tuple[str, str]]) -> None:
    """Run the cells' lines in order on one freshly booted real kernel; each cell's share of
    the transcript must be its stored output (addresses and timestamps masked)."""
    from kcourse.lab.runner import script_lines
    from kcourse.magic import render

    real = real_kernel.run_script([line for _, text in cells for line in script_lines(text)])
    start = 0
    for cell_id, text in cells:
        count = len(script_lines(text))
        shown = render(real[start:start + count])
        start += count
        assert normalise(shown) == normalise(stored(lesson, cell_id)), cell_id


def test_lesson_03_kshell_cells_are_the_real_kernels(real_kernel):
    """All of lesson 03's %%kshell cells share one machine: replayed in order on one boot."""
    cells = kshell_cells(L03)
    assert len(cells) >= 8
    replay_on_one_boot(real_kernel, L03, cells)


def test_lesson_05_kshell_real_cells_are_the_real_kernels(real_kernel):
    """Lesson 05's `%%kshell --real` cells are NBVAL_SKIP (nbval never reruns them), and
    their stored output (the 0444 `count` refusing `echo`, lsmod, dmesg) came from one real
    run: they share one guest, so they are replayed in order on one boot."""
    cells = kshell_cells(L05, "%%kshell --real")
    assert len(cells) >= 2
    replay_on_one_boot(real_kernel, L05, cells)


def test_course_module_comments_hold_on_debians_kernel(real_kernel):
    """What the comments of noexit.c and racy.c (racy.c is printed in lesson 01) say of
    Debian's kernel: CONFIG_MODULE_FORCE_UNLOAD=y, so `rmmod -f` removes a module without an
    exit function and taints the kernel R (TAINT_FORCED_RMMOD, bit 3 of include/linux/panic.h;
    kernel/module/main.c try_force_unload); and it boots with voluntary preemption
    (kernel/sched/core.c preempt_dynamic_init, CONFIG_PREEMPT_VOLUNTARY=y)."""
    real = real_kernel.run_script([
        "insmod noexit/noexit.ko", "rmmod noexit", "rmmod -f noexit",
        "grep -c noexit /proc/modules", "cat /proc/sys/kernel/tainted",
        "mount -t debugfs none /sys/kernel/debug", "cat /sys/kernel/debug/sched/preempt"])
    assert [r.rc for r in real[:3]] == [0, 1, 0], format_transcript(real)
    assert real[3].stdout == "0\n"
    assert int(real[4].stdout) & (1 << 3)
    assert real[6].stdout.split() == ["none", "(voluntary)", "full"]


@pytest.mark.parametrize("name", list(recorded.RECORDINGS))
def test_real_recordings_still_hold(real_kernel, name):
    """data/real/NAME.expected, which lessons 01 and 02 print, against a fresh boot."""
    fresh = recorded.transcript(name)
    assert recorded.comparable(name, fresh) == recorded.comparable(name, recorded.expected(name))


# --- the build ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def headers():
    need_tool("make")
    need_tool("gcc")
    try:
        return experiments.headers_dir()
    except KcourseError as err:
        need(False, str(err))


@pytest.mark.parametrize("name", list(experiments.EXPERIMENTS))
def test_experiment_builds_print_what_the_lessons_show(headers, name, tmp_path):
    status, output = experiments.run(name, tmp_path / name)
    assert (status == 0) == experiments.get(name).keeps_ko
    assert output == experiments.recorded(name)


def test_gplviolator_is_refused_by_modpost_as_lessons_01_and_02_show(headers, tmp_path):
    from kcourse.build.kbuild import KbuildError, build_module

    with pytest.raises(KbuildError) as info:
        build_module(course_module("gplviolator").parent, kdir=headers, out_dir=tmp_path / "g")
    errors = [line for line in info.value.result.output.splitlines()
              if re.match(r"^(ERROR|WARNING): modpost:", line)]
    assert "\n".join(errors) + "\n" == (
        course_module("gplviolator").parent / "modpost-error.txt").read_text()


def test_consumer_c_quotes_modposts_namespace_error(headers, tmp_path):
    """consumer.c (printed in lesson 03) quotes what modpost says when MODULE_IMPORT_NS is
    missing: the same build without that line."""
    from kcourse.build.kbuild import KbuildError, build_module

    folder = course_module("consumer").parent
    text = (folder / "consumer.c").read_text()
    flat = " ".join(line.lstrip(" *") for line in text.splitlines())
    quoted = re.search(r'modpost stops \("(ERROR: modpost: .*?)"\)', flat).group(1)
    (tmp_path / "provider").mkdir()
    shutil.copy(course_module("provider").parent / "provider.h", tmp_path / "provider")
    src = tmp_path / "consumer"
    src.mkdir()
    shutil.copy(folder / "Kbuild", src)
    assert "MODULE_IMPORT_NS(KCOURSE);\n" in text
    (src / "consumer.c").write_text(text.replace("MODULE_IMPORT_NS(KCOURSE);\n", ""))
    symvers = course_module("provider").parent / "Module.symvers"
    with pytest.raises(KbuildError) as info:
        build_module(src, kdir=headers, extra_symbols=[symvers], out_dir=tmp_path / "c")
    assert quoted in info.value.result.output.splitlines()


def test_lesson_04_quotes_modposts_first_error_without_extra_symbols(headers, tmp_path):
    from kcourse.build.kbuild import KbuildError, build_module

    (tmp_path / "provider").mkdir()   # consumer's ccflags-y reads ../provider/provider.h
    shutil.copy(course_module("provider").parent / "provider.h", tmp_path / "provider")
    with pytest.raises(KbuildError) as info:
        build_module(course_module("consumer").parent, kdir=headers, out_dir=tmp_path / "c")
    quoted = re.search(r"`(ERROR: modpost: .*?)`", _cells(L04)["c5096b73"].source).group(1)
    first = next(line for line in info.value.result.output.splitlines() if "ERROR" in line)
    assert first.replace(str((tmp_path / "c").resolve()), "...") == quoted


# --- binutils and kmod ----------------------------------------------------------------------

def _tool_blocks(text: str, tool: str) -> list[tuple[str, str]]:
    """(command line, its output) for each `$ <tool> ...` block of a cell's output."""
    blocks = re.split(r"(?m)^(?=\$ )", text)
    return [(b.split("\n", 1)[0][2:], b.split("\n", 1)[1]) for b in blocks
            if b.startswith(f"$ {tool} ")]


def _real(command: str) -> str:
    proc = subprocess.run(command.split(), cwd=data_dir(), capture_output=True, text=True,
                          check=False)
    return proc.stdout + proc.stderr


@pytest.mark.parametrize("cell_id", ["9ba5c15d", "901cae0b", "86fe790c"])
def test_lesson_02_objdump_is_binutils(cell_id):
    need_tool("objdump")
    blocks = _tool_blocks(stored(L02, cell_id), "objdump")
    assert blocks
    for command, shown in blocks:
        assert _real(command) == shown, command


@pytest.mark.parametrize("cell_id", ["32dd92a5", "0b58dfef", "81b01176"])
def test_lesson_02_modinfo_is_kmods(cell_id):
    """kmod prints the absolute path of the file; the lesson shows it from data/ (it says so)."""
    need_tool("modinfo")
    blocks = _tool_blocks(stored(L02, cell_id), "modinfo")
    assert blocks
    for command, shown in blocks:
        assert _real(command).replace(f"{data_dir()}/", "") == shown, command


def test_lesson_01_racy_symbols_are_binutils():
    need_tool("objdump")
    text = stored(L01, "t01-reentrant")
    command, shown = text.split("\n", 1)
    real = _real("objdump -t modules/racy/racy.ko")
    assert shown == "".join(line + "\n" for line in real.splitlines() if "racy_" in line)


def test_lesson_01_whoami_reads_comm_at_debians_offset():
    """Lesson 01 (t01-process) names whoami.ko's instructions: `mov %gs:current_task, %rsi`,
    then `add $0xba0, %rsi`, 0xba0 = 2976 being comm's offset in Debian's task_struct."""
    need_tool("objdump")
    text = _real("objdump -dr experiments/whoami/whoami.ko")
    found = re.findall(r"mov    %gs:0x0,%rsi\n(?:\s+\w+:\s+00 00 \n)?"
                       r"\s+\w+: R_X86_64_32S\s+current_task\n"
                       r"\s+\w+:\s+48 81 c6 a0 0b 00 00 \s+add    \$0xba0,%rsi", text)
    assert len(found) == 3, text      # init, read() and exit


def test_lesson_04_depmod_is_kmods(tmp_path):
    tool = need_tool("depmod")
    extra = tmp_path / "lib/modules/6.1.0-56-amd64/extra"
    extra.mkdir(parents=True)
    for name in ("hello", "provider", "consumer"):
        shutil.copy(course_module(name), extra)
    subprocess.run([tool, "-b", str(tmp_path), "6.1.0-56-amd64"], check=True)
    text = stored(L04, "4508a98a")
    for name in ("modules.dep", "modules.symbols"):
        shown = text.split(f"--- {name}\n", 1)[1].split("--- ", 1)[0]
        assert shown == (extra.parent / name).read_text(), name


def test_lesson_04_model_output_is_marked():
    """Every `make` target the model runs in lesson 04 prints as the model's, and each line a
    real run would print is set off with `| `."""
    for cell_id in ("8e323a31", "6130b983", "a11546f7", "ba853f01", "d7f42412"):
        text = stored(L04, cell_id)
        assert text.startswith("model of `make "), cell_id
        assert not re.search(r"(?m)^\$ make", text), cell_id
        for line in text.splitlines():
            if re.match(r"^\s*(CC|LD|INSTALL|DEPMOD|MODPOST|Kernel:)", line.strip("| ")):
                assert line.startswith("  | "), (cell_id, line)


def test_lesson_01_model_lines_are_marked():
    """What only a model says in lesson 01 is printed with `model| ` on every line."""
    for cell_id in ("cc055b46", "1ff51f51", "220e8ee5", "fd3b9644", "48929e3a", "325b21c2",
                    "7e6cc6df"):
        lines = [line for line in stored(L01, cell_id).splitlines()
                 if not line.startswith(("kmalloc returned", "with a mutex", "still running"))]
        assert lines and all(line.startswith("model| ") for line in lines), cell_id


def test_recordings_and_experiments_the_lessons_name_exist():
    for path in Path(notebooks_dir()).glob("0*.ipynb"):
        text = path.read_text()
        for name in re.findall(r'recorded\.show\("(\w+)"', text):
            assert name in recorded.RECORDINGS and recorded.get(name).expected_path.exists()
        for name in re.findall(r'experiments\.(?:show|source)\("(\w+)"', text):
            assert name in experiments.EXPERIMENTS and experiments.get(name).folder.exists()


# --- third pass: the two-CPU cells of lesson 01, and the exercises of 04 and 05 --------------

def test_lesson_01_racy_write_steps_are_the_files_instructions():
    """t01-smp-solo prints racy_write as the simulator runs it; t01-smp-solo-md says gcc emitted
    13 instructions, the first a `call __fentry__` (a NOP once loaded), then udelay(2) as
    `__const_udelay(0x218e)`, the last a `jmp __x86_return_thunk`. objdump -dr on the file."""
    need_tool("objdump")
    text = _real("objdump -dr --no-show-raw-insn modules/racy/racy.ko")
    body = text.split("<racy_write>:\n", 1)[1].split("\n\n", 1)[0]
    real = re.findall(r"(?m)^\s+([0-9a-f]+):\t(\S+)", body)
    relocs = dict(re.findall(r"(?m)^\s+([0-9a-f]+): R_X86_64_\w+\s+(\w+)", body))
    shown = [int(off, 16) for off in re.findall(r"racy_write\+0x([0-9a-f]+)/0x30",
                                                 stored(L01, "t01-smp-solo"))]
    assert [int(off, 16) for off, _ in real] == shown
    assert len(real) == 13 and "13 instructions of racy_write" in stored(L01, "t01-smp-solo")
    assert real[0][1] == "call" and relocs["1"] == "__fentry__"
    assert real[-1][1] == "jmp" and relocs["2c"] == "__x86_return_thunk"
    assert "mov    $0x218e,%edi" in body and relocs["1b"] == "__const_udelay"
    assert "nopl" in stored(L01, "t01-smp-solo").splitlines()[0]   # after ftrace's NOP


def test_lesson_04_twofile_symbols_are_binutils(headers, tmp_path):
    """c66de653: the check reads what `objdump -t twofile.ko` shows, a file symbol for main.c
    and one for util.c, and twofile_sum in .text; the worked solution, built for real."""
    need_tool("objdump")
    from kcourse.exercises_programs import program

    folder = program("compile.two-files").build("solution", base=tmp_path)
    proc = subprocess.run(["objdump", "-t", str(folder / "twofile.ko")], capture_output=True,
                          text=True, check=True)
    files = re.findall(r"(?m)^0+ l    df \*ABS\*\t0+ (\S+)$", proc.stdout)
    assert sorted(files) == ["main.c", "twofile.mod.c", "util.c"]
    assert re.search(r"(?m)^0+ g     F \.text\t[0-9a-f]+ twofile_sum$", proc.stdout)
    assert "`objdump -t`) must name both source files and hold `twofile_sum`" in \
        _cells(L04)["c66de653"].source


def test_lesson_05_unwind_skeleton_and_the_labs_cpu_as_the_lessons_say(real_kernel, tmp_path):
    """What lesson 05 (13a91ee2) says the unwind skeleton does on the real kernel, and what
    lesson 01 (t01-smp-solo-md) says of the lab's CPU (no return thunk needed, so
    apply_returns makes racy_write's last jmp a `ret`)."""
    from kcourse.exercises_programs import UNWIND_REFUSED, program

    folder = program("lab.init-unwind").build("skeleton", base=tmp_path)
    vulns = "/sys/devices/system/cpu/vulnerabilities"
    real = real_kernel.run_script(
        ["insmod unwind.ko fail=1", "ls /dev/unwind", "insmod unwind.ko", "dmesg",
         f"cat {vulns}/retbleed {vulns}/spec_rstack_overflow"],
        files={"unwind.ko": folder / "unwind.ko"})
    assert real[0].stderr.strip() == UNWIND_REFUSED
    assert real[1].stdout == "/dev/unwind\n"      # it outlives the module
    said = _cells(L05)["13a91ee2"].source
    assert "next `insmod` fails with `File exists`" in said
    assert real[2].stderr.strip() == \
        "insmod: ERROR: could not insert module unwind.ko: File exists"
    quoted = re.search(r"sysfs's `(cannot create duplicate filename '[^']+')`", said).group(1)
    log = [line.split("] ", 1)[1] for line in real[3].stdout.splitlines()]
    at = log.index(f"sysfs: {quoted}")
    assert "Call Trace:" in log[at:at + 5]           # "and a stack dump" (sysfs_warn_dup)
    assert real[4].stdout == "Not affected\nNot affected\n"
    assert "`retbleed` and `spec_rstack_overflow` say `Not affected`" in \
        _cells(L01)["t01-smp-solo-md"].source
