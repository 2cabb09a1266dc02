"""Programming exercises: the learner writes a module; the check builds it, runs it, judges it.

    ex = program("structure.count-param")     # kcourse.exercises_programs: the course's ones
    ex.skeleton()                              # the C with its TODOs, to paste in a cell
    # %%kmodule countparm  (the learner's cell: builds ./kmodules/countparm/countparm.ko)
    ex.check("countparm")                      # loads it into a fresh simulated kernel
    ex.check("countparm", real=True)           # the same script on Debian's kernel in QEMU
    ex.hint(); ex.solution()

`check` takes the .ko that the learner's `%%kmodule NAME` cell built (rebuilding it with the
real kbuild when the .c is newer, or when only the .c is there), loads it into a fresh simulated
Kernel with a Shell whose working folder is the module's folder, runs the exercise's shell
script there, and hands what the kernel showed (an Outcome: each line's output, exit status and
dmesg lines) and the Kernel to the exercise's judge, which returns (ok, feedback). The feedback
says what the kernel printed next to what the task asked for. Attempts are recorded as for
kcourse.exercises.Exercise. An exercise with two modules (an exporter and its user) runs in
the folder that holds both module folders, and its script names them as NAME/NAME.ko. A module
built from several C files has a cell for one of them (`%%kmodule NAME --file PART.c`, its
Kbuild all the learner's); the exercise gives the others (`ex.given()` writes them).
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kcourse.backend import CommandResult
from kcourse.build.cell import CELL_FOLDER, build_cell
from kcourse.errors import KcourseError
from kcourse.exercises import _record

Judge = Callable[["Outcome", Any], "tuple[bool, str]"]


@dataclass
class Outcome:
    """What an exercise's script did, line by line, on one backend."""

    results: list[CommandResult]
    real: bool = False
    folder: Path | None = None  # where the script ran: the module's folder (or the modules')

    def of(self, command: str, nth: int = 0) -> CommandResult | None:
        """The nth result whose line starts with `command` (e.g. "insmod", "cat /dev/x")."""
        found = [r for r in self.results if r.line.startswith(command)]
        return found[nth] if nth < len(found) else None

    def dmesg(self) -> list[str]:
        """Every kernel log line the script caused, in order (message text, no timestamp)."""
        return [line for result in self.results for line in result.dmesg]

    def failed(self) -> CommandResult | None:
        """The first line that exited non-zero."""
        return next((r for r in self.results if r.rc != 0), None)


def said(result: CommandResult | None) -> str:
    """What a command printed, as one short quoted line for feedback."""
    if result is None:
        return "nothing (the line did not run)"
    text = " | ".join(x for x in (result.stdout + result.stderr).splitlines() if x.strip())
    text = text if len(text) <= 160 else text[:157] + "..."
    return f"`{result.line}` printed {text!r}" if text else f"`{result.line}` printed nothing"


def logged(outcome: Outcome) -> str:
    lines = outcome.dmesg()
    shown = " | ".join(lines[-6:])
    return f"dmesg showed {shown!r}" if lines else "dmesg showed nothing"


class ModuleExercise:
    """A C exercise: skeleton with TODOs, worked solution, shell script, judge."""

    def __init__(self, id: str, task: str, skeleton: str | dict[str, str],
                 solution: str | dict[str, str], script: str, judge: Judge, hint: str = "", *,
                 module: str | None = None, kbuild: dict[str, list[str]] | None = None,
                 solution_kbuild: dict[str, list[str]] | None = None,
                 files: dict[str, str] | None = None,
                 given: dict[str, dict[str, str]] | None = None) -> None:
        if isinstance(skeleton, str) or isinstance(solution, str):
            if module is None:
                raise ValueError("a one-file exercise names its module (module=...)")
            skeleton = {module: skeleton} if isinstance(skeleton, str) else skeleton
            solution = {module: solution} if isinstance(solution, str) else solution
        if list(skeleton) != list(solution):
            raise ValueError("skeleton and solution must name the same modules")
        self.id, self.task, self.script, self.judge = id, task, script, judge
        self.skeleton_sources, self.solution_sources = dict(skeleton), dict(solution)
        self.modules = list(skeleton)  # build and load order
        self.kbuild = kbuild or {}
        self.solution_kbuild = {**self.kbuild, **(solution_kbuild or {})}
        self.files = files or {}  # module -> the C file its cell is (default NAME.c)
        self.given_sources = given or {}  # module -> {file: text} the exercise provides
        self.hint_text = hint
        self.attempts, self.solved = 0, False

    # ------------------------------------------------------------------ showing
    def _show(self, sources: dict[str, str], kbuild: dict[str, list[str]]) -> None:
        for name in self.modules:
            words = [f"--file {self.files[name]}"] if name in self.files else []
            words += [f"--kbuild {_quoted(line)}" for line in kbuild.get(name, [])]
            print(" ".join([f"%%kmodule {name}", *words]))
            print(sources[name], end="" if sources[name].endswith("\n") else "\n")
            if name != self.modules[-1]:
                print()

    def skeleton(self) -> None:
        """Print the skeleton cell(s): the %%kmodule line, then the C with its TODOs."""
        self._show(self.skeleton_sources, self.kbuild)

    def solution(self) -> None:
        """Print the worked solution's cell(s)."""
        self._show(self.solution_sources, self.solution_kbuild)

    def given(self, base: Path | None = None) -> None:
        """Write the files the exercise provides into their module's folder (./kmodules/NAME/,
        where the %%kmodule cell builds), and show them."""
        for name, files in self.given_sources.items():
            folder = Path(base or Path.cwd()) / CELL_FOLDER / name
            folder.mkdir(parents=True, exist_ok=True)
            for file, text in files.items():
                (folder / file).write_text(text)
                print(f"wrote {CELL_FOLDER}/{name}/{file}:")
                print(text, end="" if text.endswith("\n") else "\n")

    def hint(self) -> None:
        print(f"Hint: {self.hint_text}" if self.hint_text else "No hint for this one.")

    # ------------------------------------------------------------------ building
    def build(self, which: str = "solution", base: Path | None = None) -> Path:
        """Build the skeleton or the solution as %%kmodule cells would, under
        base/kmodules/ (base: the working folder); returns what check() takes."""
        sources = self.solution_sources if which == "solution" else self.skeleton_sources
        kbuild = self.solution_kbuild if which == "solution" else self.kbuild
        base = Path(base or Path.cwd())
        with contextlib.redirect_stdout(io.StringIO()):
            self.given(base)
        for name in self.modules:
            built = build_cell(name, sources[name], kbuild.get(name, []), base=base,
                               file=self.files.get(name))
            if built.problem:
                raise KcourseError(f"{name}.ko not built: {built.problem}")
        return self._run_folder(base / CELL_FOLDER)

    def _run_folder(self, kmodules: Path) -> Path:
        return kmodules / self.modules[0] if len(self.modules) == 1 else kmodules

    def _locate(self, answer: Any) -> Path:
        """The folder the script runs in, from a module name, a folder or nothing."""
        if answer is None or answer is Ellipsis or answer in self.modules:
            return self._run_folder(Path.cwd() / CELL_FOLDER)
        if not isinstance(answer, (str, os.PathLike)):
            raise KcourseError(f"give the module's name ({self.modules[0]!r}) or its folder")
        folder = Path(answer).expanduser()
        if folder.name.endswith(".ko"):
            folder = folder.parent
        if not folder.is_dir():
            raise KcourseError(f"{folder} is not a folder (run the %%kmodule "
                               f"{self.modules[0]} cell first)")
        return folder

    def _module_folders(self, run_folder: Path) -> dict[str, Path]:
        if len(self.modules) == 1:
            return {self.modules[0]: run_folder}
        return {name: run_folder / name for name in self.modules}

    def _ready(self, run_folder: Path) -> str:
        """Build what needs it; '' when every .ko is there, else why not (one line)."""
        from kcourse.build.build_cli import missing_tool

        for name, folder in self._module_folders(run_folder).items():
            cell = self.files.get(name, f"{name}.c")
            source, ko = folder / cell, folder / f"{name}.ko"
            sources = [p for p in (*folder.glob("*.c"), folder / "Kbuild") if p.is_file()
                       and not p.name.endswith(".mod.c")]
            fresh = ko.is_file() and all(p.stat().st_mtime <= ko.stat().st_mtime
                                         for p in sources)
            if fresh:
                continue
            if not source.is_file():
                return (f"there is no {name}.ko (nor {cell}) in {folder.name}/: run the "
                        f"%%kmodule {name} cell first")
            problem = missing_tool()
            if problem:
                return f"{name}.ko is not built and cannot be: {problem}"
            reason = _kbuild(folder)
            if reason:
                return f"{cell} did not build: {reason}"
            if not ko.is_file():
                made = sorted(p.name for p in folder.glob("*.ko"))
                return (f"kbuild made no {name}.ko (it made {', '.join(made) or 'no module'}): "
                        f"obj-m lists the modules it builds as .ko files; {name}.ko needs "
                        f"obj-m := {name}.o")
        return ""

    # ------------------------------------------------------------------ checking
    def run(self, answer: Any = None, real: bool = False) -> tuple[Outcome, Any]:
        """Run the script against the learner's module(s); (Outcome, Kernel or None)."""
        run_folder = self._locate(answer)
        problem = self._ready(run_folder)
        if problem:
            raise KcourseError(problem)
        if real:
            from kcourse.lab.runner import RealKernel, script_lines

            files = {}
            for name, folder in self._module_folders(run_folder).items():
                guest = f"{name}.ko" if len(self.modules) == 1 else f"{name}/{name}.ko"
                files[guest] = folder / f"{name}.ko"
            live = _live_guest()
            if live is None:  # a guest of its own: boot, run, stop
                results = RealKernel().run_script(script_lines(self.script), files)
            else:  # the notebook's live guest (%%kshell --real): no boot to wait for
                names = " ".join(self.modules)
                live.run_script([f"cd /root/modules; for m in {names}; do grep -q \"^$m \" "
                                 "/proc/modules && rmmod $m; done; true"])
                results = live.run_script(script_lines(self.script), files)
            return Outcome(results, True, run_folder), None
        from kcourse.kernel import Kernel
        from kcourse.shell import Shell

        kernel = Kernel(seed=0)
        shell = Shell(kernel, workdir=str(run_folder.resolve()))
        return Outcome(shell.run_script(self.script), False, run_folder), kernel

    def check(self, answer: Any = None, real: bool = False) -> bool:
        """Build (if needed), load, run, judge; print the verdict; return whether it passed.

        answer: the module's name (its %%kmodule folder ./kmodules/NAME), a folder, or
        `...`/None for the %%kmodule cell's folder. real=True: Debian's kernel under QEMU."""
        where = "the real kernel" if real else "the simulated kernel"
        try:
            outcome, kernel = self.run(answer, real=real)
            ok, feedback = self.judge(outcome, kernel)
            ok, feedback = bool(ok), str(feedback)
        except KcourseError as err:
            if real and ("not installed" in str(err) or "qemu" in str(err).lower()):
                print(f"The real kernel needs QEMU: {' '.join(str(err).split())}")
                return False
            ok, feedback = False, " ".join(str(err).split())
        except Exception as err:  # noqa: BLE001 - a learner's module must never end in a traceback
            text = " ".join(str(err).split())[:160]
            ok, feedback = False, f"could not check it ({type(err).__name__}: {text})."
        if feedback and not feedback.endswith((".", ")")):
            feedback += "."
        self.attempts += 1
        self.solved = self.solved or ok
        _record(self.id, ok)
        if ok:
            print(f"✔ Correct (on {where})." + (f" {feedback}" if feedback else ""))
        else:
            tail = " Try ex.hint()." if self.hint_text else ""
            print(f"✘ Not yet (on {where}): {feedback}{tail}")
        return ok

    def __repr__(self) -> str:
        state = "solved" if self.solved else f"{self.attempts} attempt(s)"
        return f"<ModuleExercise {self.id}: {state}>"


def _live_guest():
    """The notebook's live real-kernel shell if it has one, up or booting (kcourse.magic:
    lesson 05 starts it early), else None. A check there first unloads the exercise's
    modules an earlier attempt left loaded."""
    from kcourse import magic

    return magic._REAL


def _kbuild(folder: Path) -> str:
    """Build the folder with the real kbuild for the course kernel; '' or the first error."""
    from kcourse import pin
    from kcourse.build import headers
    from kcourse.build.kbuild import KbuildError, build_module

    try:
        tree = headers.build_tree(pin.release())
        build_module(folder, kdir=tree, out_dir=folder, cache=True)
    except KbuildError as err:
        lines = [x for x in err.result.output.splitlines() if "error" in x.lower()]
        lines = lines or [x for x in err.result.output.splitlines() if "***" in x]
        return (lines[0] if lines else "kbuild failed").replace(f"{folder.resolve()}/", "")
    except KcourseError as err:
        return " ".join(str(err).split())
    return ""


def _quoted(line: str) -> str:
    import shlex

    return shlex.quote(line)
