"""kcourse: a self-paced workbook on Linux kernel modules.

Importing this package is light on purpose: matplotlib and ipywidgets are imported only
when a chart or a panel is used (tests/test_layering.py holds us to it).
"""

__version__ = "0.1.0"

from kcourse.errors import KcourseError  # noqa: E402

__all__ = ["KcourseError", "__version__"]


def load_ipython_extension(ipython):
    """`%load_ext kcourse` registers the %%kshell cell magic (imported only then)."""
    from kcourse.magic import load_ipython_extension as load

    load(ipython)
