"""Number and payload formatting for the suite's pages.

Decimals are shown as stored, less the trailing zeros of their storage precision
(a price stored as 25.50000000 reads 25.50), with thousands separated - never rounded.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import template

register = template.Library()

PAYLOAD_SUMMARY_CHARS = 140


@register.filter
def num(value: Any, min_places: int | str = 2) -> Any:
    """`25.50000000|num` -> 25.50; `1000.000000|num:0` -> 1,000; `0.12345678|num` ->
    0.12345678. Anything that is not a number is returned as it is (dates, codes)."""
    if value is None or value == "" or isinstance(value, bool):
        return "" if value is None else value
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return value
    if not number.is_finite():
        return value
    places = int(min_places)
    text = format(number, "f")
    sign = "-" if text.startswith("-") else ""
    whole, _, fraction = text.lstrip("-").partition(".")
    fraction = fraction.rstrip("0").ljust(places, "0")
    grouped = f"{int(whole or 0):,}"
    if sign and int(whole or 0) == 0 and not fraction.strip("0"):
        sign = ""  # -0.00 reads as 0.00
    return f"{sign}{grouped}.{fraction}" if fraction else f"{sign}{grouped}"


@register.filter
def payload_summary(payload: Any) -> str:
    """One line of an event payload: its plain fields, then the names of nested ones."""
    if not isinstance(payload, dict):
        return str(payload)
    plain = [f"{k}={v}" for k, v in payload.items() if not isinstance(v, dict | list)]
    nested = [f"{k} {{…}}" for k, v in payload.items() if isinstance(v, dict | list)]
    line = " · ".join(plain + nested)
    if len(line) > PAYLOAD_SUMMARY_CHARS:
        line = line[: PAYLOAD_SUMMARY_CHARS - 1] + "…"
    return line
