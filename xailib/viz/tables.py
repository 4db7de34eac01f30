"""Tables for the book: row dicts rendered as Markdown (chapters display them with ``IPython.display.Markdown``)."""

from __future__ import annotations

from collections.abc import Sequence


def markdown_table(rows: Sequence[dict], columns: Sequence[str], formats: dict[str, str] | None = None) -> str:
    """A Markdown table of row dicts (``formats``: column -> format spec, e.g. ``".1f"``)."""
    formats = formats or {}
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for r in rows:
        lines.append("| " + " | ".join(format(r[c], formats.get(c, "")) if c in r else "" for c in columns) + " |")
    return "\n".join(lines)
