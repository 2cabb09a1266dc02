"""Exercises that check the learner's answer on the spot, with a hint and a solution each.

    ex = Exercise("structure.init-section", "Which section holds the code marked __init?",
                  answer=".init.text", hint="...", solution="...")
    ex.check(".init.text")   # prints a verdict, records the attempt, returns True/False
    ex.hint(); ex.solution()

Answers are compared after normalising: strings are stripped (and compared case-sensitively,
because section and symbol names are); lists compare in order; sets compare as sets; numbers
compare by value. A custom `check=` callable returns (ok, feedback) for anything richer.

Attempts are recorded per learner in $XDG_DATA_HOME/kcourse/progress.json (never in the
repository); `progress()` summarises them and `reset_progress()` forgets them.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kcourse.paths import state_dir

Checker = Callable[[Any], "tuple[bool, str]"]
_REGISTRY: dict[str, Exercise] = {}


def _normalise(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (list, tuple)):
        return [_normalise(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return {_normalise(v) for v in value}
    return value


def shown(value: Any, limit: int = 60) -> str:
    """repr() of a learner's answer, cut short: feedback stays one readable line."""
    text = " ".join(repr(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _compare(expected: Any) -> Checker:
    def check(given: Any) -> tuple[bool, str]:
        want, got = _normalise(expected), _normalise(given)
        if isinstance(want, set) and isinstance(got, (list, tuple)):
            got = set(got)
        if isinstance(want, (int, float)) and isinstance(got, str):
            try:
                got = type(want)(got.replace("_", ""), 0) if isinstance(want, int) else float(got)
            except ValueError:
                return False, f"{shown(given)} is not a number."
        if got == want:
            return True, ""
        if isinstance(want, set) and isinstance(got, set):
            missing, extra = want - got, got - want
            parts = []
            if missing:
                parts.append(f"{len(missing)} missing")
            if extra:
                parts.append(f"{len(extra)} that should not be there")
            return False, ", ".join(parts) + "."
        return False, f"{shown(given)} is not it."

    return check


@dataclass
class Exercise:
    """One question with an on-the-spot check."""

    id: str
    question: str
    answer: Any = None
    check_fn: Checker | None = None
    hint_text: str = ""
    solution_text: str = ""
    attempts: int = field(default=0, init=False)
    solved: bool = field(default=False, init=False)

    def __init__(self, id: str, question: str, answer: Any = None, *,
                 check: Checker | None = None, hint: str = "", solution: str = "") -> None:
        if (answer is None) == (check is None):
            raise ValueError("give exactly one of answer= or check=")
        self.id, self.question = id, question
        self.answer, self.check_fn = answer, check or _compare(answer)
        self.hint_text, self.solution_text = hint, solution
        self.attempts, self.solved = 0, False
        _REGISTRY[id] = self

    def check(self, given: Any) -> bool:
        """Check an answer, print the verdict, record the attempt; return whether it is right."""
        if given is Ellipsis:  # a student copy's blank: `answer = ...  # YOUR ANSWER HERE`
            print("… No answer yet: replace `...` with your answer and run the cell again.")
            return False
        try:
            ok, feedback = self.check_fn(given)
            ok, feedback = bool(ok), str(feedback)
        except Exception as err:  # a learner's odd input must never end in a traceback
            text = " ".join(str(err).split())[:120]
            ok, feedback = False, f"could not check that answer ({type(err).__name__}: {text})."
        self.attempts += 1
        self.solved = self.solved or ok
        _record(self.id, ok)
        if ok:
            print("✔ Correct." + (f" {feedback}" if feedback else ""))
        else:
            tail = " Try ex.hint()." if self.hint_text else ""
            print(f"✘ Not yet: {feedback}{tail}")
        return ok

    def hint(self) -> None:
        print(f"Hint: {self.hint_text}" if self.hint_text else "No hint for this one.")

    def solution(self) -> None:
        print(f"Solution: {self.solution_text}")

    def __repr__(self) -> str:
        state = "solved" if self.solved else f"{self.attempts} attempt(s)"
        return f"<Exercise {self.id}: {state}>"


# --- progress: a small JSON file per learner ----------------------------------------------


def progress_file() -> Path:
    override = os.environ.get("KCOURSE_PROGRESS_FILE")
    return Path(override) if override else state_dir() / "progress.json"


def _load() -> dict:
    """The progress record; an unreadable or hand-damaged file counts as no progress."""
    try:
        data = json.loads(progress_file().read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {key: {"attempts": entry.get("attempts", 0)
                  if isinstance(entry.get("attempts", 0), int) else 0,
                  "solved": entry.get("solved") is True}
            for key, entry in data.items() if isinstance(entry, dict)}


def _record(exercise_id: str, ok: bool) -> None:
    data = _load()
    entry = data.setdefault(exercise_id, {"attempts": 0, "solved": False})
    entry["attempts"] += 1
    entry["solved"] = entry["solved"] or ok
    path = progress_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
        tmp.replace(path)
    except OSError:
        pass  # progress is a convenience; a read-only home must not break an exercise


def progress() -> dict[str, dict]:
    """{exercise id: {"attempts": n, "solved": bool}} for this learner."""
    return _load()


EXERCISE_ID = re.compile(r"""(?:Exercise|program)\(\s*["']([^"']+)["']""")


def lesson_exercises(notebooks: list[Path] | None = None) -> dict[str, list[str]]:
    """{lesson notebook stem: [exercise ids it defines]}, read from the notebooks' sources."""
    from kcourse.paths import notebooks_dir

    found = {}
    for path in notebooks if notebooks is not None else sorted(notebooks_dir().glob("*.ipynb")):
        try:
            cells = json.loads(path.read_text())["cells"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        ids: list[str] = []
        for cell in cells if isinstance(cells, list) else []:
            if not isinstance(cell, dict):
                continue
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else str(source)
            ids += [i for i in EXERCISE_ID.findall(source) if i not in ids]
        if ids:
            found[path.stem] = ids
    return found


def progress_report(notebooks: list[Path] | None = None) -> str:
    """Done / to do per lesson, for this learner."""
    record = progress()
    lines = []
    for lesson, ids in lesson_exercises(notebooks).items():
        done = [i for i in ids if record.get(i, {}).get("solved")]
        todo = [i for i in ids if i not in done]
        lines.append(f"{lesson}: {len(done)}/{len(ids)} done" + (f"; to do: {', '.join(todo)}"
                                                                   if todo else ""))
    return "\n".join(lines) if lines else "No exercises found."


def reset_progress() -> None:
    try:
        progress_file().unlink()
    except FileNotFoundError:
        pass
