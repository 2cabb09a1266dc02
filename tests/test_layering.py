"""`import kcourse` and the model layers stay light: no matplotlib or ipywidgets until a chart
or a panel is used (design.md, layers)."""

import subprocess
import sys

import pytest

HEAVY = ("matplotlib", "ipywidgets", "unicorn", "capstone")  # unicorn: when code first runs


@pytest.mark.parametrize(
    "module", ["kcourse", "kcourse.elf", "kcourse.kernel", "kcourse.shell", "kcourse.build",
     "kcourse.exercises", "kcourse.behaviors", "kcourse.lab", "kcourse.machine", "kcourse.kapi"]
)
def test_model_layers_do_not_import_heavy_view_libraries(module):
    code = (
        "import importlib, sys\n"
        f"importlib.import_module({module!r})\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "", f"{module} imported {proc.stdout.strip()}"
