"""Findings: what a check found, one per entity (and source) and rule, ready to become an
alert. Plain frozen dataclasses: the engine never touches the database."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .rules import ClassRules, Rule, Severity

# Measured values are compared with their tolerance after rounding to this many decimals
# of their unit (see rules.py: "exactly at the tolerance" must not depend on float noise).
MEASURE_DECIMALS = 9


@dataclass(frozen=True, slots=True)
class Finding:
    """One failed check on one entity at one tick.

    rule, rule_version, severity   the rule that matched and how bad it is.
    entity_kind, entity_key        what is wrong: "instrument" 123, "fx_pair" EURJPY,
                                   "holding" GEQ:123, "mandate" GEQ, "statement" ACC-1,
                                   "curve" USD.
    source                         the source at fault, or checked ("primary", "secondary",
                                   "custodian", "book"); "" when the two sources disagree
                                   and neither can be blamed.
    value, value_source            the checked source's value and who sent it.
    reference, reference_source    what it was checked against and where that came from.
    tolerance, measured, unit      the limit, the measured value (signed where a direction
                                   means something) and their unit: "bp", "log_return",
                                   "ratio", "units", "minutes", "rate", "count", "years".
    inputs                         the data this touches, for lineage ("instrument:123",
                                   "price:123:primary", "fx:EURUSD", "fx:EURUSD:secondary",
                                   "mandate:GEQ", "custodian:ACC-1", "curve:USD").
    message                        one line for a person.
    asset_class                    the entity's asset class, when it has one.
    detail                         extra figures (sigma, vix, ratio...), JSON-friendly.
    """

    rule: str
    rule_version: int
    severity: Severity
    entity_kind: str
    entity_key: str
    source: str
    value: float
    value_source: str
    reference: float
    reference_source: str
    tolerance: float
    measured: float
    unit: str
    inputs: tuple[str, ...]
    message: str
    asset_class: str = ""
    detail: Mapping[str, Any] = field(default_factory=dict)

    @property
    def dedup_key(self) -> tuple[str, str, str, str]:
        """What makes a persisting condition the same alert from tick to tick."""
        return (self.rule, self.entity_kind, self.entity_key, self.source)


def tidy(values: np.ndarray) -> np.ndarray:
    """Round measured values before comparing them with a tolerance (MEASURE_DECIMALS)."""
    return np.round(values, MEASURE_DECIMALS)


def number(value: Any) -> float:
    """A float for a finding field (NaN stays NaN)."""
    return float(value) if value is not None else math.nan


def fmt(value: float, places: int = 6) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "none"
    return f"{value:.{places}g}"


def escalate(
    severity: Severity, measured: float, tolerance: float, multiple: float | None
) -> Severity:
    """Critical when the measured value is `multiple` times its tolerance or more."""
    if multiple and tolerance > 0 and abs(measured) >= multiple * tolerance:
        return "critical"
    return severity


def matches(
    rows: np.ndarray, rules: ClassRules, class_index: np.ndarray, classes: tuple[str, ...]
) -> Iterator[tuple[int, Rule, str]]:
    """(row, effective rule, asset class) for each matching row."""
    for row in np.flatnonzero(rows).tolist():
        position = int(class_index[row])
        yield row, rules.rule(position), classes[position]
