"""Fixed-width plain-text tables for a terminal."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def format_number(value: Any, digits: int = 3) -> str:
    """Return a number as the paper prints it: whole numbers bare, others to `digits` places."""
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if math.isnan(value):
        return "-"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if float(value).is_integer():
        return str(int(value))
    if abs(value) < 10**-digits:
        # 0.0001 would print as 0.000: small values keep `digits` significant digits instead.
        return f"{value:.{digits}g}"
    return f"{value:.{digits}f}"


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> str:
    """Return a table with a header rule; the first `left` columns left-aligned, the rest right."""
    widths = [len(header) for header in headers]
    for row in rows:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row)]

    def line(cells: Sequence[str]) -> str:
        aligned = [
            cell.ljust(width) if index < left else cell.rjust(width)
            for index, (cell, width) in enumerate(zip(cells, widths))
        ]
        return "  ".join(aligned).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(headers), rule, *(line(row) for row in rows)])
