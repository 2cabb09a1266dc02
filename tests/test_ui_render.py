"""The panels' drawings: the state diagram shows exactly the kernel's transitions
(kcourse.kernel.states.TRANSITIONS, from kernel/module/main.c) and enum module_state's
values (include/linux/module.h); step charts leave gaps where a module was not loaded."""

import html
import math
import re

from kcourse.kernel.states import TRANSITIONS, ModuleState
from kcourse.ui.render import lsmod_table, parse_lsmod, state_diagram
from kcourse.ui.svgchart import step_chart


def test_state_diagram_has_every_state_and_transition():
    svg = state_diagram("COMING", [None, "UNFORMED", "COMING"])
    names = re.findall(r'class="kc-state" data-name="([^"]+)"', svg)
    assert sorted(names) == sorted([s.name for s in ModuleState] + ["not loaded"])
    titles = [html.unescape(t) for t in re.findall(r"<line [^>]*><title>([^<]+)</title>", svg)]
    assert sorted(titles) == sorted(TRANSITIONS.values())
    assert 'data-state="COMING"' in svg
    assert 'data-state="none"' in state_diagram(None)


def test_lsmod_rows_keep_the_used_by_column_whole():
    # kmod tools/lsmod.c: printf("%-19s %8ld  %d", ...) then " a,b" for the holders
    text = ("Module                  Size  Used by\n"
            "provider               16384  1 consumer\n"
            "consumer               16384  0\n")
    assert parse_lsmod(text) == [["provider", "16384", "1 consumer"],
                                 ["consumer", "16384", "0"]]
    assert 'data-key="provider"' in lsmod_table(text)


def test_step_chart_gaps_and_points():
    nan = math.nan
    svg = step_chart({"hello": [nan, 1, 1, 0, nan, 1], "kcdev": [0, 0, 0, 0, 0, 0]})
    hello = re.search(r'data-name="hello">(.*?)</g>', svg).group(1)
    path = re.search(r' d="([^"]+)"', hello).group(1)
    assert path.count("M") == 2  # two stretches: loaded, unloaded, loaded again
    assert hello.count("<circle") == 4
    assert 'data-name="kcdev"' in svg
