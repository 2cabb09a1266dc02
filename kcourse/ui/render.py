"""HTML for the panels' read-only views: plain functions from data to markup.

They import no widgets, so a test can check what a panel shows by reading these strings,
and the same markup works in a widget, in `_repr_html_` or in a saved page.
"""

from __future__ import annotations

from html import escape

__all__ = ["dmesg", "error", "escape", "lsmod_table", "message", "pre", "scroll",
           "state_diagram", "sysfs_table", "table"]

# Where each box of the state diagram sits (x, y of its top-left corner); None = not listed.
_BOX = {None: (10, 60), "UNFORMED": (150, 60), "COMING": (290, 10), "LIVE": (430, 60),
        "GOING": (290, 110)}
_W, _H = 110, 32
_ACTIVE = "#2e7d32"
_PATH = "#1565c0"


def pre(text: str, css_class: str = "kc-pre") -> str:
    """Monospaced text, escaped, in a scrolling box."""
    return (f'<pre class="{css_class}" style="margin:0;max-height:16em;overflow:auto;'
            f'font-size:90%">{escape(text)}</pre>')


_CELL = "padding:1px 1.2em 1px 0;line-height:1.35;border:none"


def table(header: list[str], rows: list[list[str]], css_class: str, key: int | None = 0) -> str:
    """A plain HTML table; each row carries data-key=<row[key]> so a browser test can find it."""
    head = "".join(f"<th style='{_CELL};text-align:left'>{escape(h)}</th>" for h in header)
    body = []
    for row in rows:
        attr = f' data-key="{escape(row[key])}"' if key is not None and row else ""
        cells = "".join(f"<td style='{_CELL}'>{escape(c)}</td>" for c in row)
        body.append(f"<tr{attr}>{cells}</tr>")
    return (f'<table class="{css_class}" style="font-family:monospace;font-size:90%">'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")


def parse_lsmod(text: str) -> list[list[str]]:
    """Rows of kmod's lsmod output: [name, size, used by] where "used by" is the count and
    the holders, as printed (tools/lsmod.c: "%-19s %8ld  %d", then " a,b")."""
    rows = []
    for line in text.splitlines()[1:]:
        parts = line.split(None, 2)
        if len(parts) == 3:
            rows.append(parts)
    return rows


def lsmod_table(text: str) -> str:
    """The lsmod output as a table with kmod's own header words."""
    rows = parse_lsmod(text)
    if not rows:
        return "<i>lsmod: no modules loaded</i>"
    return table(["Module", "Size", "Used by"], rows, "kc-lsmod")


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
    out.append(f' <span class="kc-rc" style="color:{colour}">[rc={rc}]</span>')
    return '<div class="kc-message">' + "".join(out) + "</div>"


def _edge(src: tuple[int, int], dst: tuple[int, int], shift: int) -> tuple[float, ...]:
    """A line between two boxes' centres, cut at the boxes' borders, moved `shift` px sideways."""
    (x1, y1), (x2, y2) = (src[0] + _W / 2, src[1] + _H / 2), (dst[0] + _W / 2, dst[1] + _H / 2)
    dx, dy = x2 - x1, y2 - y1
    length = (dx * dx + dy * dy) ** 0.5
    nx, ny = -dy / length * shift, dx / length * shift
    # fraction of the centre-to-centre line that lies inside one box
    t = min(_W / 2 / abs(dx) if dx else 1.0, _H / 2 / abs(dy) if dy else 1.0)
    return (x1 + dx * t + nx, y1 + dy * t + ny, x2 - dx * t + nx, y2 - dy * t + ny)


def state_diagram(current: str | None, path: list[str | None] | tuple = ()) -> str:
    """An SVG of enum module_state with the loader's transitions (kcourse.kernel.states).

    `current` (a ModuleState name, or None when the module is not in the modules list) is
    filled in; the states in `path` (what the last action went through) are outlined.
    """
    from kcourse.kernel.states import TRANSITIONS

    seen = set(path)
    parts = [f'<svg class="kc-states" width="100%" style="max-width:560px" viewBox="0 0 560 160" '
             f'data-state="{escape(current or "none")}" font-family="sans-serif" '
             'font-size="12"><defs><marker id="kc-arrow" markerWidth="8" markerHeight="8" '
             'refX="8" refY="4" orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#555"/>'
             "</marker></defs>"]
    for (old, new), why in TRANSITIONS.items():
        src = _BOX[old.name if old is not None else None]
        dst = _BOX[new.name if new is not None else None]
        both_ways = (new, old) in TRANSITIONS
        x1, y1, x2, y2 = _edge(src, dst, 5 if both_ways else 0)
        parts.append(f'<line x1="{x1:.0f}" y1="{y1:.0f}" x2="{x2:.0f}" y2="{y2:.0f}" '
                     f'stroke="#555" marker-end="url(#kc-arrow)"><title>{escape(why)}</title>'
                     "</line>")
    for state, (x, y) in _BOX.items():
        label = state or "not loaded"
        now = state == current
        stroke = _PATH if state in seen and not now else "#555"
        parts.append(f'<g class="kc-state" data-name="{label}"><rect x="{x}" y="{y}" '
                     f'width="{_W}" height="{_H}" rx="6" fill="{_ACTIVE if now else "white"}" '
                     f'stroke="{stroke}" stroke-width="{3 if state in seen else 1}"/>'
                     f'<text x="{x + _W // 2}" y="{y + 20}" text-anchor="middle" '
                     f'fill="{"white" if now else "black"}">{label}</text></g>')
    parts.append("</svg>")
    return "".join(parts)


def error(text: str) -> str:
    """A one-line refusal, in red."""
    return f'<span class="kc-error" style="color:#b71c1c">{escape(text)}</span>'


def dmesg(lines: list[str], first_new: int) -> str:
    """dmesg lines; those from index `first_new` on (the last command's) in bold."""
    if not lines:
        return pre("(no new kernel messages)", "kc-dmesg")
    old = escape("\n".join(lines[:first_new]))
    new = escape("\n".join(lines[first_new:]))
    sep = "\n" if old and new else ""
    return (f'<pre class="kc-dmesg" style="margin:0;max-height:16em;overflow:auto;'
            f'font-size:90%">{old}{sep}<b>{new}</b></pre>')


def scroll(html: str, height: str = "28em") -> str:
    """Markup in a box that scrolls when it is taller than `height`."""
    return f'<div style="max-height:{height};overflow:auto">{html}</div>'
