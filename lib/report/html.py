"""HTML building blocks of the report: escaping, small elements, and the page around them.

Everything shown in the report that is not markup written here is untrusted (model output,
prompts, labels, case ids, fingerprints, error messages): `esc` escapes it with
`html.escape(quote=True)`. Markup built here is a `Safe` string, which `esc` passes through, so
a fragment is escaped exactly once however deeply it is nested.

Data for scripts goes through `script_json`, which escapes `<`, `>`, `&` and U+2028/U+2029 as
JSON `\\u` escapes: no `</script>` or `<!--` can end the script element early.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Iterable, Sequence

# Only the page's own two scripts may run (by hash: a script that escaped escaping would not)
# and nothing may be fetched: no connect, img (but data:/blob: images Plotly draws itself),
# font, frame or other source is allowed.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src {hashes}; style-src 'unsafe-inline'; "
    "img-src data: blob:; base-uri 'none'; form-action 'none'"
)

_SCRIPT_UNSAFE = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
_SCRIPT_TABLE = str.maketrans(_SCRIPT_UNSAFE)

STYLE = """
:root { color-scheme: light; --muted: #5f6368; --line: #dadce0; --soft: #f6f8fa; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto;
  max-width: 1200px; padding: 1rem 1.5rem 4rem; color: #202124; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { margin-top: 2.2rem;
  border-bottom: 1px solid var(--line); padding-bottom: .2rem; } h3 { margin-top: 1.4rem; }
.muted, caption { color: var(--muted); font-size: .9rem; }
caption { caption-side: top; text-align: left; padding: .2rem 0; }
table { border-collapse: collapse; margin: .6rem 0; font-size: .9rem; }
th, td { border: 1px solid var(--line); padding: .25rem .5rem; vertical-align: top;
  text-align: left; }
th { background: var(--soft); } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.scroll { overflow-x: auto; max-width: 100%; }
pre, code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre { background: var(--soft); padding: .5rem; white-space: pre-wrap; overflow-wrap: anywhere;
  margin: .2rem 0; }
pre.out { max-height: 24rem; overflow-y: auto; }
.runs td { min-width: 16rem; } .meta { color: var(--muted); font-size: .8rem; }
.failed { color: #b3261e; } .warn { background: #fff4e5; border-left: 4px solid #f29900;
  padding: .4rem .8rem; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(440px, 1fr)); gap: 1rem; }
.figure { min-height: 260px; }
.diff { background: var(--soft); padding: .5rem; overflow-wrap: anywhere; }
.diff del { background: #ffd7d5; text-decoration: line-through; }
.diff ins { background: #ccffd8; text-decoration: none; }
details { margin: .4rem 0; } summary { cursor: pointer; }
nav ul { columns: 3; font-size: .9rem; }
"""


class Safe(str):
    """Markup written by the report itself (its untrusted parts already escaped).

    `Safe + x` and `x + Safe` stay Safe, escaping a plain-str `x`: str's own `+` would return
    a plain str, which the next `esc` would escape a second time.
    """

    def __add__(self, other: object) -> Safe:
        return Safe(str.__add__(self, esc(other)))

    def __radd__(self, other: object) -> Safe:
        return Safe(str.__add__(esc(other), self))


def esc(value: object) -> Safe:
    """`value` as HTML text; a Safe fragment is returned as it is."""
    if isinstance(value, Safe):
        return value
    return Safe(html.escape(str(value), quote=True))


def join(parts: Iterable[object], separator: str = "") -> Safe:
    return Safe(separator.join(esc(part) for part in parts))


def element(name: str, content: object = "", **attributes: object) -> Safe:
    """`<name attributes>content</name>`; attribute values are escaped, `class_` is class.

    Attribute names are the code's own, never user text; None leaves an attribute out.
    """
    attrs = "".join(
        f' {key.rstrip("_").replace("_", "-")}="{esc(value)}"'
        for key, value in attributes.items()
        if value is not None
    )
    return Safe(f"<{name}{attrs}>{esc(content)}</{name}>")


def paragraph(*parts: object, class_: str | None = None) -> Safe:
    return element("p", join(parts), class_=class_)


def pre(text: object, class_: str | None = None) -> Safe:
    return element("pre", text, class_=class_)


def details(summary: object, content: object, *, open_: bool = False) -> Safe:
    body = element("summary", summary) + esc(content)
    return Safe(f"<details{' open' if open_ else ''}>{body}</details>")


def section(anchor: str, title: str, *content: object) -> Safe:
    return element("section", element("h2", title) + join(content), id=anchor)


class Cell:
    """A table cell with options: right-aligned numbers carry their exact value in data-value."""

    def __init__(self, content: object, *, value: float | None = None, class_: str | None = None):
        self.content = content
        self.value = value
        self.class_ = class_


def table(
    columns: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    anchor: str | None = None,
    caption: str | None = None,
    class_: str | None = None,
) -> Safe:
    """A table; a cell is text (escaped), Safe markup or a Cell."""
    head = element("tr", join(element("th", name, scope="col") for name in columns))
    body = join(element("tr", join(_cell(cell) for cell in row)) for row in rows)
    parts = (element("caption", caption) if caption else Safe("")) + element("thead", head)
    inner = element("table", parts + element("tbody", body), id=anchor, class_=class_)
    return element("div", inner, class_="scroll")


def _cell(cell: object) -> Safe:
    if isinstance(cell, Cell):
        value = None if cell.value is None else repr(float(cell.value))
        return element("td", cell.content, class_=cell.class_, data_value=value)
    return element("td", cell)


def script_json(text: str) -> str:
    """JSON text made safe inside a <script> element (see the module docstring); JSON only
    has these characters inside strings, where the \\u form means the same."""
    return text.translate(_SCRIPT_TABLE)


def _script_hash(script: str) -> str:
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def page(title: str, body: Safe, *, plotly_js: str, figures_json: str, init_script: str) -> str:
    """The whole document: head with the policy and styles, the body, then the scripts
    (plotly.js once, the figures as inert JSON, the script that draws them)."""
    hashes = " ".join(_script_hash(script) for script in (plotly_js, init_script))
    policy = CONTENT_SECURITY_POLICY.format(hashes=hashes)
    head = (
        '<meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(policy)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"{element('title', title)}<style>{STYLE}</style>"
    )
    scripts = (
        f'<script type="text/javascript">{plotly_js}</script>'
        f'<script type="application/json" id="seedscope-figures">{script_json(figures_json)}'
        f"</script><script>{init_script}</script>"
    )
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head>{head}</head><body>{body}{scripts}</body></html>\n'
    )
