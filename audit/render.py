"""Text rendering of the report: Jinja2 templates to markdown, and that markdown to one HTML page.

`render_markdown(context)` fills `audit/templates/report.md.j2`. Numbers are formatted only here,
by the filters below, with fixed precision (percent to 2 decimals, p-values to 4 significant places
or scientific notation below 1e-4), so the same context always gives the same bytes.

`markdown_to_html(markdown, images)` converts the subset of markdown our template writes (headings,
paragraphs, bullet lists, pipe tables, images, `code`, **bold**, *italic*, links) into a
self-contained HTML page, inlining each image as base64. It is not a general markdown parser.
"""
from __future__ import annotations

import base64
import html
import json
import re
from typing import Mapping, Optional

import jinja2

DASH = "—"  # printed wherever a number is undefined (null in summary.json)


def fmt_pct(value: Optional[float], digits: int = 2) -> str:
    """A percent (or percentage-point) value with fixed decimals; undefined -> an em dash."""
    return DASH if value is None else f"{value:.{digits}f}"


def fmt_signed(value: Optional[float], digits: int = 2) -> str:
    """A difference with its sign: +1.23 / -0.50."""
    return DASH if value is None else f"{value:+.{digits}f}"


def fmt_p(value: Optional[float]) -> str:
    """A p-value: 4 decimals, or scientific notation when it would print as 0.0000."""
    if value is None:
        return DASH
    return f"{value:.1e}" if value < 1e-4 else f"{value:.4f}"


def fmt_num(value: Optional[float], digits: int = 2) -> str:
    """Any other real number (z, t, df) with fixed decimals."""
    return DASH if value is None else f"{value:.{digits}f}"


def fmt_interval(interval: Optional[tuple], digits: int = 2) -> str:
    """[low, high] -> '[76.10, 82.64]'."""
    if interval is None:
        return DASH
    low, high = interval
    return f"[{low:.{digits}f}, {high:.{digits}f}]"


def fmt_value(value: object) -> str:
    """A config value as it would read in JSON/YAML: null, true, 0.0001, "kaggle"."""
    return json.dumps(value, sort_keys=True)


def cell(text: object) -> str:
    """Text safe inside a markdown table cell: no pipes or line breaks."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def make_environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("audit", "templates"),
        undefined=jinja2.StrictUndefined,  # a missing field is a bug, not an empty string
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # markdown, not HTML; markdown_to_html escapes
    )
    env.filters.update(pct=fmt_pct, signed=fmt_signed, p=fmt_p, num=fmt_num, interval=fmt_interval, cell=cell,
                       value=fmt_value)
    return env


def render_markdown(context: Mapping) -> str:
    """The report as markdown from a context built by `audit.report.build_context`."""
    text = make_environment().get_template("report.md.j2").render(**context)
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n") + "\n"


# ---- markdown (our template's subset) -> HTML ----

_IMAGE = re.compile(r"^!\[(?P<alt>[^\]]*)\]\((?P<src>[^)\s]+)\)$")
_HEADING = re.compile(r"^(#{1,6}) (.*)$")
_TABLE_RULE = re.compile(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?$")

PAGE_STYLE = """
body{font-family:"DejaVu Sans",Verdana,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;
line-height:1.45;color:#222}
table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}
th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f3f3} code{background:#f3f3f3;padding:0 .2rem} img{max-width:100%}
"""


def markdown_to_html(markdown: str, images: Mapping[str, bytes], title: str) -> str:
    """One self-contained HTML page; `images` maps each image path used in the markdown to PNG bytes."""
    body: list[str] = []
    lines = markdown.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
        elif _HEADING.match(line):
            hashes, text = _HEADING.match(line).groups()
            body.append(f"<h{len(hashes)}>{_inline(text)}</h{len(hashes)}>")
            i += 1
        elif _IMAGE.match(line.strip()):
            match = _IMAGE.match(line.strip())
            body.append(_image(match["alt"], match["src"], images))
            i += 1
        elif line.startswith("|"):
            block, i = _take(lines, i, lambda s: s.startswith("|"))
            body.append(_table(block))
        elif line.startswith("- "):
            block, i = _take(lines, i, lambda s: s.startswith("- ") or s.startswith("  "))
            body.append(_bullets(block))
        else:
            block, i = _take(lines, i, lambda s: bool(s.strip()) and not _starts_block(s))
            body.append(f"<p>{_inline(' '.join(block))}</p>")
    head = (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{html.escape(title)}</title>\n<style>{PAGE_STYLE}</style>\n</head>\n<body>\n")
    return head + "\n".join(body) + "\n</body>\n</html>\n"


def _starts_block(line: str) -> bool:
    stripped = line.strip()
    return bool(_HEADING.match(line) or _IMAGE.match(stripped) or line.startswith("|") or line.startswith("- "))


def _take(lines: list[str], i: int, belongs) -> tuple[list[str], int]:
    block = [lines[i]]
    i += 1
    while i < len(lines) and lines[i].strip() and belongs(lines[i]):
        block.append(lines[i])
        i += 1
    return block, i


def _split_row(line: str) -> list[str]:
    cells = re.split(r"(?<!\\)\|", line.strip().strip("|"))
    return [c.strip().replace("\\|", "|") for c in cells]


def _table(block: list[str]) -> str:
    rows = [r for r in block if not _TABLE_RULE.match(r.strip())]
    header, *data = rows
    out = ["<table>", "<tr>" + "".join(f"<th>{_inline(c)}</th>" for c in _split_row(header)) + "</tr>"]
    out += ["<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in _split_row(r)) + "</tr>" for r in data]
    return "\n".join(out + ["</table>"])


def _bullets(block: list[str]) -> str:
    items: list[str] = []
    for line in block:
        if line.startswith("- "):
            items.append(line[2:])
        else:
            items[-1] += " " + line.strip()
    return "<ul>\n" + "\n".join(f"<li>{_inline(item)}</li>" for item in items) + "\n</ul>"


def _image(alt: str, src: str, images: Mapping[str, bytes]) -> str:
    data = base64.b64encode(images[src]).decode("ascii")
    return f'<p><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"></p>'


def _inline(text: str) -> str:
    """Escape HTML, then turn `code`, **bold**, *italic* and [links](url) into tags."""
    parts = re.split(r"(`[^`]*`)", text)
    out = []
    for part in parts:
        if part.startswith("`") and part.endswith("`") and len(part) >= 2:
            out.append(f"<code>{html.escape(part[1:-1])}</code>")
            continue
        part = html.escape(part, quote=False)
        part = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", part)
        part = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"<em>\1</em>", part)
        part = re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)", r'<a href="\2">\1</a>', part)
        out.append(part)
    return "".join(out)
