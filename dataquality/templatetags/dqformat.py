"""Formatting of data quality's measured values (floats: prices, rates, basis points,
quantities) for its pages."""

from __future__ import annotations

import math
from typing import Any

from django import template

register = template.Library()

SIGNIFICANT = 8


@register.filter
def measure(value: Any) -> str:
    """A float to at most 8 significant digits, thousands separated, no exponent, no
    trailing zeros: 20.000000000000284 -> 20, 0.000123456789 -> 0.00012345679,
    1234567.5 -> 1,234,567.5. None or NaN -> an em dash."""
    if value is None or value == "":
        return "—"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(number):
        return "—"
    if number == 0:
        return "0"
    magnitude = int(math.floor(math.log10(abs(number))))
    places = min(12, max(0, SIGNIFICANT - 1 - magnitude))
    text = f"{number:,.{places}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


@register.filter
def percent(value: Any, places: int = 1) -> str:
    """A share (0..1) as a percentage: 0.0123 -> 1.2%."""
    if value is None:
        return "—"
    return f"{float(value) * 100:.{int(places)}f}%"
