"""kcourse.ui keeps model and view apart: the models and renderers import neither ipywidgets
nor matplotlib, and `import kcourse.ui` stays light until a panel class is used."""

import subprocess
import sys

import pytest

HEAVY = ("matplotlib", "ipywidgets")


@pytest.mark.parametrize("module", [
    "kcourse.ui", "kcourse.ui.module_model", "kcourse.ui.leak_model", "kcourse.ui.elf_model",
    "kcourse.ui.render", "kcourse.ui.svgchart", "kcourse.ui.params", "kcourse.ui.backend",
])
def test_ui_models_do_not_import_view_libraries(module):
    code = (
        "import importlib, sys\n"
        f"importlib.import_module({module!r})\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "", f"{module} imported {proc.stdout.strip()}"


def test_model_and_charts_work_without_widgets():
    code = (
        "import sys\n"
        "from kcourse.kernel import Kernel\n"
        "from kcourse.ui.module_model import ModuleModel\n"
        "m = ModuleModel(Kernel(seed=0), 'hello'); m.do('insmod')\n"
        "mods, series = m.refcount_window()\n"
        "from kcourse.ui.svgchart import step_chart\n"
        "assert 'data-name=\"hello\"' in step_chart(series)\n"
        "print(','.join(x for x in ('matplotlib', 'ipywidgets') if x in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ""
