"""HTML for the panels' read-only views: plain functions from data to markup.

They import no widgets, so a test can check what a panel shows by reading these strings,
and the same markup works in a widget, in `_repr_html_` or in a saved page.
"""

from __future__ import annotations

from html import escape

__all__ = ["error", "escape", "lsmod_table", "message", "pre", "state_diagram", "sysfs_table",
           "table"]

# The four values of enum module_state (include/linux/module.h) and the kernel function
# that moves a module between them (kernel/module/main.c, 6.1; notes/kernel-facts.md §2).
STATES = ("UNFORMED", "COMING", "LIVE", "GOING")
TRANSITIONS = (
    ("", "UNFORMED", "add_unformed_module"),
    ("UNFORMED", "COMING", "complete_formation"),
    ("COMING", "LIVE", "do_init_module: init() returned 0"),
    ("COMING", "GOING", "do_init_module: init() failed"),
    ("LIVE", "GOING", "delete_module: try_stop_module"),
    ("GOING", "UNFORMED", "free_module"),
    ("UNFORMED", "", "free_module: list_del"),
)
# Where each state is drawn on the diagram (x, y of the box's top-left corner).
_BOX = {"": (10, 50), "UNFORMED": (130, 50), "COMING": (260, 10), "LIVE": (390, 50),
        "GOING": (260, 90)}
_W, _H = 100, 30
_ACTIVE = "#2e7d32"
_PATH = "#1565c0"


def pre(text: str, css_class: str = "kc-pre") -> str:
    """Monospaced text, escaped, in a scrolling box."""
    return (f'<pre class="{css_class}" style="margin:0;max-height:16em;overflow:auto;'
            f'font-size:90%">{escape(text)}</pre>')


def table(header: list[str], rows: list[list[str]], css_class: str, key: int | None = 0) -> str:
    """A plain HTML table; each row carries data-key=<row[key]> so a browser test can find it."""
    head = "".join(f"<th style='text-align:left;padding-right:1em'>{escape(h)}</th>"
                   for h in header)
    body = []
    for row in rows:
        attr = f' data-key="{escape(row[key])}"' if key is not None and row else ""
        cells = "".join(f"<td style='padding-right:1em'>{escape(c)}</td>" for c in row)
        body.append(f"<tr{attr}>{cells}</tr>")
    return (f'<table class="{css_class}" style="font-family:monospace;font-size:90%">'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")


def parse_lsmod(text: str) -> list[list[str]]:
    """Rows of kmod's lsmod output: [name, size, used-by count, holders] (tools/lsmod.c)."""
    rows = []
    for line in text.splitlines()[1:]:
        parts = line.split(None, 3)
        if len(parts) >= 3:
            rows.append(parts + [""] * (4 - len(parts)))
    return rows


def lsmod_table(text: str) -> str:
    """The lsmod output as a table with kmod's own header words."""
    rows = parse_lsmod(text)
    if not rows:
        return "<i>lsmod: no modules loaded</i>"
    return table(["Module", "Size", "Used", "by"], rows, "kc-lsmod")


def sysfs_table(module: str, entries: list[tuple[str, str]]) -> str:
    """`/sys/module/<m>`: one row per file (or directory, shown as `name/`) with its content."""
    if not entries:
        return f"<i>/sys/module/{escape(module)}: No such file or directory</i>"
    caption = f"<b>/sys/module/{escape(module)}</b>"
    return caption + table(["entry", "content"], [list(e) for e in entries], "kc-sysfs")


def message(command: str, stdout: str, stderr: str, rc: int) -> str:
    """The last command and what it printed; a refusal is shown in red with its exit status."""
    colour = "#b71c1c" if rc else "#1b5e20"
    out = [f"<code>$ {escape(command)}</code>"]
    if stdout:
        out.append(pre(stdout.rstrip("\n")))
    if stderr:
        out.append(f'<pre class="kc-error" style="margin:0;color:{colour}">'
                   f"{escape(stderr.rstrip(chr(10)))}</pre>")
    out.append(f'<span class="kc-rc" style="color:{colour}">[rc={rc}]</span>')
    return '<div class="kc-message">' + "".join(out) + "</div>"


def state_diagram(current: str | None, path: list[str] | tuple[str, ...] = ()) -> str:
    """An SVG of enum module_state: `current` filled in, the states `path` went through outlined.

    `current` is one of STATES, or None when the module is not in the kernel's list.
    """
    now = current or ""
    seen = set(path)
    parts = [f'<svg class="kc-states" width="500" height="130" viewBox="0 0 500 130" '
             f'data-state="{escape(now or "none")}" font-family="sans-serif" font-size="12">',
             '<defs><marker id="kc-arrow" markerWidth="8" markerHeight="8" refX="8" refY="4" '
             'orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#555"/></marker></defs>']
    for src, dst, why in TRANSITIONS:
        (x1, y1), (x2, y2) = _BOX[src], _BOX[dst]
        if src == "UNFORMED" and dst == "":
            x1, y1, x2, y2 = x1, y1 + _H, x2 + _W // 2, y2 + _H + 30
            parts.append(f'<text x="{x2 - 40}" y="{y2 + 12}" fill="#777">freed</text>')
        else:
            x1, y1 = x1 + _W // 2, y1 + _H // 2
            x2, y2 = x2 + _W // 2, y2 + _H // 2
            if x2 > x1:
                x1, x2 = x1 + _W // 2, x2 - _W // 2
            else:
                x1, x2 = x1 - _W // 2, x2 + _W // 2
        parts.append(f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="#555" '
                     f'marker-end="url(#kc-arrow)"><title>{escape(why)}</title></line>')
    for state, (x, y) in _BOX.items():
        label = state or "not loaded"
        fill = _ACTIVE if state == now else "white"
        ink = "white" if state == now else "black"
        stroke = _PATH if state in seen and state != now else "#555"
        width = 3 if state in seen else 1
        parts.append(f'<g class="kc-state" data-name="{label}"><rect x="{x}" y="{y}" '
                     f'width="{_W}" height="{_H}" rx="6" fill="{fill}" stroke="{stroke}" '
                     f'stroke-width="{width}"/><text x="{x + _W // 2}" y="{y + 19}" '
                     f'text-anchor="middle" fill="{ink}">{label}</text></g>')
    parts.append("</svg>")
    return "".join(parts)


def error(text: str) -> str:
    """A one-line refusal, in red."""
    return f'<span class="kc-error" style="color:#b71c1c">{escape(text)}</span>'
