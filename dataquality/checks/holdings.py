"""Holdings checks: the book against the custodian, line by line; positions that should
not exist (negative where shorts are not allowed, unknown instruments); custodian
statements that have not arrived when due."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from .findings import Finding, fmt, matches, tidy
from .frame import HoldingsFrame, StatementFrame
from .rules import (
    HOLDING_LATE_STATEMENT,
    HOLDING_NEGATIVE,
    HOLDING_QUANTITY_BREAK,
    HOLDING_UNKNOWN,
    Rule,
    RuleSet,
    as_ruleset,
)


def _line_key(holdings: HoldingsFrame, row: int) -> str:
    known = bool(holdings.known[row])
    name = int(holdings.instrument_id[row]) if known else holdings.reported(row)
    return f"{holdings.mandate[row]}:{name}"


def _line_inputs(holdings: HoldingsFrame, row: int) -> tuple[str, ...]:
    inputs = [f"mandate:{holdings.mandate[row]}"]
    if holdings.known[row]:
        inputs.append(f"instrument:{int(holdings.instrument_id[row])}")
    inputs.append(f"custodian:{holdings.account[row]}")
    return tuple(inputs)


def check_quantity_breaks(
    holdings: HoldingsFrame, rules: RuleSet | Iterable[Rule] | None = None
) -> list[Finding]:
    """Book against custodian quantity of each known line whose statement is in: a
    finding when |custodian - book| > tolerance_units + tolerance_relative x |book|.
    A line on one side only counts the other side as 0."""
    resolved = as_ruleset(rules).for_classes(HOLDING_QUANTITY_BREAK, holdings.classes)
    if resolved is None:
        return []
    ci = holdings.class_index
    book, custodian = holdings.book_quantity, holdings.custodian_quantity
    present = np.isfinite(book) | np.isfinite(custodian)
    difference = tidy(np.nan_to_num(custodian) - np.nan_to_num(book))
    tolerance = resolved.param("tolerance_units", ci) + resolved.param(
        "tolerance_relative", ci
    ) * np.abs(np.nan_to_num(book))
    hit = (
        resolved.enabled(ci)
        & holdings.statement_in
        & holdings.known
        & present
        & (np.abs(difference) > tolerance)
    )

    found = []
    for row, rule, asset_class in matches(hit, resolved, ci, holdings.classes):
        measured = float(difference[row])
        found.append(
            Finding(
                rule=rule.code,
                rule_version=rule.version,
                severity=rule.severity,
                entity_kind="holding",
                entity_key=_line_key(holdings, row),
                source="custodian",
                value=float(custodian[row]),
                value_source="custodian",
                reference=float(book[row]),
                reference_source="book",
                tolerance=float(tolerance[row]),
                measured=measured,
                unit="units",
                inputs=_line_inputs(holdings, row),
                message=f"{holdings.mandate[row]} {holdings.reported(row)}: custodian "
                f"{fmt(custodian[row], 12)} vs book {fmt(book[row], 12)} ({measured:+g})",
                asset_class=asset_class,
                detail={"account": str(holdings.account[row])},
            )
        )
    return found


def check_negative_positions(
    holdings: HoldingsFrame, rules: RuleSet | Iterable[Rule] | None = None
) -> list[Finding]:
    """A negative book quantity on a line where shorts are not allowed (neither the line's
    negative_allowed nor its asset class's allow_negative)."""
    resolved = as_ruleset(rules).for_classes(HOLDING_NEGATIVE, holdings.classes)
    if resolved is None:
        return []
    ci = holdings.class_index
    allowed = (resolved.param("allow_negative", ci) > 0) | holdings.negative_allowed
    book = holdings.book_quantity
    hit = resolved.enabled(ci) & ~allowed & np.isfinite(book) & (tidy(book) < 0)

    found = []
    for row, rule, asset_class in matches(hit, resolved, ci, holdings.classes):
        found.append(
            Finding(
                rule=rule.code,
                rule_version=rule.version,
                severity=rule.severity,
                entity_kind="holding",
                entity_key=_line_key(holdings, row),
                source="book",
                value=float(book[row]),
                value_source="book",
                reference=float(holdings.custodian_quantity[row]),
                reference_source="custodian",
                tolerance=0.0,
                measured=float(book[row]),
                unit="units",
                inputs=_line_inputs(holdings, row),
                message=f"{holdings.mandate[row]} {holdings.reported(row)}: book quantity "
                f"{fmt(book[row], 12)} is negative, and shorts are not allowed",
                asset_class=asset_class,
            )
        )
    return found


def check_unknown_instruments(
    holdings: HoldingsFrame, rules: RuleSet | Iterable[Rule] | None = None
) -> list[Finding]:
    """A non-zero line (book or custodian) whose instrument is not in the security master."""
    rule = as_ruleset(rules).get(HOLDING_UNKNOWN, "")
    if rule is None:
        return []
    book, custodian = holdings.book_quantity, holdings.custodian_quantity
    nonzero = (np.isfinite(book) & (book != 0)) | (np.isfinite(custodian) & (custodian != 0))
    found = []
    for row in np.flatnonzero(~holdings.known & nonzero).tolist():
        on_book = bool(np.isfinite(book[row]) and book[row] != 0)
        source = "book" if on_book else "custodian"
        quantity = float(book[row] if on_book else custodian[row])
        found.append(
            Finding(
                rule=rule.code,
                rule_version=rule.version,
                severity=rule.severity,
                entity_kind="holding",
                entity_key=_line_key(holdings, row),
                source=source,
                value=quantity,
                value_source=source,
                reference=math.nan,
                reference_source="security master",
                tolerance=0.0,
                measured=quantity,
                unit="units",
                inputs=_line_inputs(holdings, row),
                message=f"{holdings.mandate[row]}: {source} holds {fmt(quantity, 12)} of "
                f"{holdings.reported(row)}, which is not in the security master",
                asset_class=str(holdings.asset_class[row]),
                detail={"reported_id": str(holdings.reported(row))},
            )
        )
    return found


def check_late_statements(
    statements: StatementFrame, rules: RuleSet | Iterable[Rule] | None = None
) -> list[Finding]:
    """A statement not received by its due time plus grace_minutes. The due time is the
    last moment it may arrive: at exactly due + grace with nothing received, it is late
    (the check at that time has seen everything that arrived by then). Once received,
    silent (the alert resolves)."""
    rule = as_ruleset(rules).get(HOLDING_LATE_STATEMENT, "")
    if rule is None or not len(statements):
        return []
    grace = float(rule.param("grace_minutes"))
    overdue = (statements.now - statements.expected_by) / np.timedelta64(1, "m")
    due = ~np.isnat(statements.expected_by)
    late = due & np.isnat(statements.received_at) & (tidy(overdue.astype(np.float64)) >= grace)
    found = []
    for row in np.flatnonzero(late).tolist():
        account, mandate = str(statements.account[row]), str(statements.mandate[row])
        found.append(
            Finding(
                rule=rule.code,
                rule_version=rule.version,
                severity=rule.severity,
                entity_kind="statement",
                entity_key=account,
                source="custodian",
                value=math.nan,
                value_source="custodian",
                reference=math.nan,
                reference_source="schedule",
                tolerance=grace,
                measured=float(overdue[row]),
                unit="minutes",
                inputs=(f"custodian:{account}", f"mandate:{mandate}"),
                message=f"statement for {account} due {statements.expected_by[row]} not received "
                f"({float(overdue[row]):.0f} minutes overdue)",
                detail={"expected_by": str(statements.expected_by[row]), "mandate": mandate},
            )
        )
    return found


HOLDING_CHECKS = (check_quantity_breaks, check_negative_positions, check_unknown_instruments)
