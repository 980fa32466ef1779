"""Decimal field shapes used across the book, so every module stores numbers alike.

Rounding rule when a float computation is stored: ROUND_HALF_EVEN to the field's places
(`book.numbers.quantize_*`).
"""

from django.db import models


def QuantityField(**kwargs):  # noqa: N802 - reads like a field class at the call site
    return models.DecimalField(max_digits=24, decimal_places=6, **kwargs)


def PriceField(**kwargs):  # noqa: N802
    return models.DecimalField(max_digits=24, decimal_places=8, **kwargs)


def MoneyField(**kwargs):  # noqa: N802
    return models.DecimalField(max_digits=24, decimal_places=4, **kwargs)


def RateField(**kwargs):  # noqa: N802
    return models.DecimalField(max_digits=20, decimal_places=10, **kwargs)
