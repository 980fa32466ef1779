"""Identifiers people read: ISINs (with their check digit) and sequential ids (T-000123)."""

from __future__ import annotations

import re

ISIN_PATTERN = re.compile(r"^[A-Z]{2}[A-Z0-9]{9}[0-9]$")


def _isin_digits(body: str) -> str:
    return "".join(str(int(ch, 36)) for ch in body)


def isin_check_digit(body: str) -> str:
    """The check digit of an 11-character ISIN body (Luhn over letters as 10..35)."""
    if len(body) != 11 or not re.fullmatch(r"[A-Z]{2}[A-Z0-9]{9}", body):
        raise ValueError(f"an ISIN body is 2 letters and 9 alphanumerics, got {body!r}")
    digits = _isin_digits(body)
    total = 0
    # Luhn from the right; the check digit will take the rightmost position, so the
    # body's rightmost digit is doubled.
    for index, ch in enumerate(reversed(digits)):
        value = int(ch)
        if index % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)


def isin_is_valid(isin: str) -> bool:
    return bool(ISIN_PATTERN.match(isin)) and isin_check_digit(isin[:11]) == isin[11]


def isin_make(country: str, national_id: str) -> str:
    body = f"{country}{national_id.rjust(9, '0')}".upper()
    return body + isin_check_digit(body)


def readable_id(prefix: str, number: int) -> str:
    """T-000123, J-000045, ... (at least six digits, more when the count needs them)."""
    return f"{prefix}-{number:06d}"
