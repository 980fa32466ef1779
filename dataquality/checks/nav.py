"""NAV input completeness: every line a mandate holds has a validated price and a
validated FX path from its currency to the mandate's base currency.

Validated = present, and no finding at or above blocking_severity names that source
(input "price:<id>:<vendor>" or "fx:<pair>:<source>"). So this check runs after the
price and FX checks, on their findings (run_checks does that).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from .findings import Finding
from .frame import FxFrame, HoldingsFrame, MarketFrame, factorize
from .rules import NAV_FX_MISSING, NAV_PRICE_MISSING, SEVERITY_RANK, Rule, RuleSet, as_ruleset


def blocked_inputs(findings: Sequence[Finding], severity: str) -> set[str]:
    """The inputs named by findings at or above `severity`."""
    rank = SEVERITY_RANK[severity]
    return {i for f in findings if SEVERITY_RANK[f.severity] >= rank for i in f.inputs}


def positions(keys: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Where each of `wanted` sits in `keys` (-1 when absent)."""
    if keys.size == 0:
        return np.full(wanted.shape, -1, dtype=np.intp)
    order = np.argsort(keys, kind="stable")
    at = np.clip(np.searchsorted(keys, wanted, sorter=order), 0, keys.size - 1)
    found = order[at]
    return np.where(keys[found] == wanted, found, -1)


def _blocked_ids(blocked: set[str], vendor: str) -> np.ndarray:
    """Instrument ids whose `vendor` price a blocking finding names."""
    prefix, suffix = "price:", f":{vendor}"
    return np.array(
        [
            int(k[len(prefix) : -len(suffix)])
            for k in blocked
            if k.startswith(prefix) and k.endswith(suffix)
        ],
        dtype=np.int64,
    )


def fx_usable(fx: FxFrame, blocked: set[str], use_secondary: bool = True) -> np.ndarray:
    """Pairs with a rate from a source no blocking finding names."""
    good = np.zeros(len(fx), dtype=bool)
    for source in (0, 1) if use_secondary else (0,):
        name = fx.source_names[source]
        ok = np.isfinite(fx.rates(source))
        if blocked:
            ok &= np.array([f"fx:{p}:{name}" not in blocked for p in fx.pair.tolist()], dtype=bool)
        good |= ok
    return good


def validated_prices(
    market: MarketFrame | None,
    fx: FxFrame | None,
    findings: Sequence[Finding],
    *,
    severity: str,
    use_secondary: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """(instrument ids, has a validated price), over the market frame and the FX pairs
    that are instruments."""
    blocked = blocked_inputs(findings, severity)
    ids, ok = [], []
    if market is not None and len(market):
        good = np.zeros(len(market), dtype=bool)
        for vendor in (0, 1) if use_secondary else (0,):
            usable = np.isfinite(market.quotes(vendor)[0])
            bad = _blocked_ids(blocked, market.vendor_names[vendor])
            if bad.size:
                usable &= ~np.isin(market.instrument_id, bad)
            good |= usable
        ids.append(market.instrument_id)
        ok.append(good)
    if fx is not None and len(fx):
        has_id = fx.instrument_id >= 0
        ids.append(fx.instrument_id[has_id])
        ok.append(fx_usable(fx, blocked, use_secondary)[has_id])
    if not ids:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool)
    return np.concatenate(ids), np.concatenate(ok)


def fx_paths(
    fx: FxFrame | None, usable: np.ndarray, needs: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], bool]:
    """For each (from, to) currency need: a usable rate direct, inverse, or through one
    other currency?"""
    edges: dict[str, set[str]] = defaultdict(set)
    if fx is not None:
        for base, quote, ok in zip(
            fx.base.tolist(), fx.quote.tolist(), usable.tolist(), strict=True
        ):
            if ok:
                edges[str(base)].add(str(quote))
                edges[str(quote)].add(str(base))
    return {
        (source, target): source == target
        or target in edges[source]
        or bool(edges[source] & edges[target])
        for source, target in needs
    }


def check_nav_inputs(
    holdings: HoldingsFrame,
    market: MarketFrame | None,
    fx: FxFrame | None,
    findings: Sequence[Finding] = (),
    rules: RuleSet | Iterable[Rule] | None = None,
) -> list[Finding]:
    """Per mandate: the held lines (known instrument, non-zero book quantity) with no
    validated price (nav.price_missing; classes in no_price_classes need none), and those
    with no validated FX path to the base currency (nav.fx_missing; lines whose currency
    or base currency is "" are not FX-checked). One finding per mandate and rule, naming
    the lines' inputs."""
    ruleset = as_ruleset(rules)
    price_rule = ruleset.get(NAV_PRICE_MISSING, "")
    fx_rule = ruleset.get(NAV_FX_MISSING, "")
    book = holdings.book_quantity
    held = holdings.known & np.isfinite(book) & (book != 0)
    found: list[Finding] = []
    if price_rule is not None:
        no_price_classes = set(price_rule.param("no_price_classes"))
        class_needs_price = np.array(
            [c not in no_price_classes for c in holdings.classes], dtype=bool
        )
        needs_price = held & class_needs_price[holdings.class_index] if len(holdings) else held
        ids, ok = validated_prices(
            market,
            fx,
            findings,
            severity=str(price_rule.param("blocking_severity")),
            use_secondary=bool(price_rule.param("use_secondary")),
        )
        at = positions(ids, holdings.instrument_id)
        priced = (
            (at >= 0) & ok[np.maximum(at, 0)] if ids.size else np.zeros(len(holdings), dtype=bool)
        )
        found += _per_mandate(
            price_rule,
            holdings,
            needs_price,
            needs_price & ~priced,
            key=lambda row: f"instrument:{int(holdings.instrument_id[row])}",
            what="a validated price",
        )
    if fx_rule is not None:
        blocked = blocked_inputs(findings, str(fx_rule.param("blocking_severity")))
        usable = fx_usable(fx, blocked) if fx is not None else np.zeros(0, dtype=bool)
        currencies, codes = factorize(np.concatenate([holdings.currency, holdings.base_currency]))
        n = len(holdings)
        source_code, target_code = codes[:n], codes[n:]
        need = source_code * max(len(currencies), 1) + target_code
        checkable = held & (holdings.currency != "") & (holdings.base_currency != "")
        wanted = np.unique(need[checkable])
        answer = fx_paths(
            fx,
            usable,
            [
                (currencies[w // len(currencies)], currencies[w % len(currencies)])
                for w in wanted.tolist()
            ],
        )
        missing = np.array(
            [
                w
                for w in wanted.tolist()
                if not answer[(currencies[w // len(currencies)], currencies[w % len(currencies)])]
            ],
            dtype=np.intp,
        )
        lacking = checkable & np.isin(need, missing) if missing.size else np.zeros(n, dtype=bool)
        found += _per_mandate(
            fx_rule,
            holdings,
            checkable,
            lacking,
            key=lambda row: f"fx:{holdings.currency[row]}{holdings.base_currency[row]}",
            what="a validated FX rate to the base currency",
        )
    return found


def _per_mandate(
    rule: Rule,
    holdings: HoldingsFrame,
    considered: np.ndarray,
    lacking: np.ndarray,
    *,
    key: Callable[[int], str],
    what: str,
) -> list[Finding]:
    if not lacking.any():
        return []
    mandates, code = holdings.mandate_codes
    totals = np.bincount(code[considered], minlength=len(mandates))
    rows = np.flatnonzero(lacking)
    by_mandate: dict[int, list[int]] = defaultdict(list)
    for row, m in zip(rows.tolist(), code[rows].tolist(), strict=True):
        by_mandate[m].append(row)
    found = []
    for m in sorted(by_mandate):
        mandate, lines = mandates[m], by_mandate[m]
        touched = sorted({key(row) for row in lines})
        found.append(
            Finding(
                rule=rule.code,
                rule_version=rule.version,
                severity=rule.severity,
                entity_kind="mandate",
                entity_key=mandate,
                source="",
                value=float(len(lines)),
                value_source="lines lacking",
                reference=float(totals[m]),
                reference_source="lines held",
                tolerance=0.0,
                measured=float(len(lines)),
                unit="count",
                inputs=(f"mandate:{mandate}", *touched),
                message=f"{mandate}: {len(lines)} of {int(totals[m])} held lines lack {what}",
                detail={"lacking": touched},
            )
        )
    return found
