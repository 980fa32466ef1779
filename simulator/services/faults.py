"""Fault injection: the scenario's rates, the dice, and the ground-truth record of every
fault injected. Modules must find faults in the data, never by reading InjectedFault."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..market import STREAM_FAULTS
from ..models import Clock, FaultKind, InjectedFault, Scenario

# Chance per opportunity: per instrument and tick for prices, per pair and tick for FX,
# per confirmation, per holding line, per statement, per trade due to settle, per holder of
# a dividend or split (missed corporate action), per split and ex-date (a vendor quoting
# the pre-split price all day).
DEFAULT_RATES: dict[str, float] = {
    FaultKind.PRICE_SPIKE: 0.0004,
    FaultKind.STALE_PRICE: 0.0004,
    FaultKind.MISSING_PRICE: 0.0002,
    FaultKind.VENDOR_DISAGREEMENT: 0.0008,
    FaultKind.FX_SOURCE_MISMATCH: 0.002,
    FaultKind.CONFIRMATION_PRICE: 0.015,
    FaultKind.CONFIRMATION_QUANTITY: 0.01,
    FaultKind.CONFIRMATION_TIME: 0.01,
    FaultKind.CONFIRMATION_SIDE: 0.003,
    FaultKind.MISSING_CONFIRMATION: 0.01,
    FaultKind.DUPLICATE_CONFIRMATION: 0.01,
    FaultKind.CUSTODIAN_QUANTITY: 0.003,
    FaultKind.LATE_STATEMENT: 0.05,
    FaultKind.MISSED_CORPORATE_ACTION: 0.05,
    FaultKind.FAILED_SETTLEMENT: 0.01,
    FaultKind.SPLIT_NOT_REFLECTED: 0.1,
    FaultKind.SCALE_ERROR: 0.0001,
}
BUILTIN_SCENARIOS = {
    "default": ("Everyday operations: rare faults of every kind.", 1.0),
    "clean": ("No faults at all: every module should report nothing.", 0.0),
    "stressed": ("A bad week: every fault five times as likely.", 5.0),
}


def scenarios_ensure() -> None:
    """The built-in scenarios exist (custom ones are added in the admin), with a rate for
    every fault kind: a kind added since one was created gets its built-in rate (rates
    edited in the admin are kept)."""
    for name, (description, factor) in BUILTIN_SCENARIOS.items():
        rates = {k: v * factor for k, v in DEFAULT_RATES.items()}
        scenario, created = Scenario.objects.get_or_create(
            name=name,
            defaults={"description": description, "fault_rates": rates, "builtin": True},
        )
        missing = {k: v for k, v in rates.items() if k not in scenario.fault_rates}
        if not created and scenario.builtin and missing:
            scenario.fault_rates = {**scenario.fault_rates, **missing}
            scenario.save(update_fields=["fault_rates"])


def fault_rates() -> dict[str, float]:
    scenario = Clock.objects.select_related("scenario").get(pk=1).scenario
    rates = dict(DEFAULT_RATES)
    if scenario is not None:
        rates = {k: float(scenario.fault_rates.get(k, 0.0)) for k in DEFAULT_RATES}
    return rates


@dataclass
class FaultDice:
    """Rolls for one tick and one stream of opportunities, and the faults they injected."""

    seed: int
    sim_date: dt.date
    slot: int
    stream: int
    rates: dict[str, float]
    tick: int
    sim_time: dt.datetime
    injected: list[InjectedFault] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(
            np.random.SeedSequence(
                [self.seed, self.sim_date.toordinal(), STREAM_FAULTS, self.slot, self.stream]
            )
        )

    def hits(self, kind: str, count: int) -> np.ndarray:
        """A boolean mask: which of `count` opportunities get a fault of `kind`."""
        return self.rng.random(count) < self.rates.get(kind, 0.0)

    def roll(self, kind: str) -> bool:
        return bool(self.rng.random() < self.rates.get(kind, 0.0))

    def record(self, kind: str, *, magnitude: float = 0.0, **where: Any) -> None:
        detail = where.pop("detail", {})
        self.injected.append(
            InjectedFault(
                kind=kind,
                tick=self.tick,
                sim_time=self.sim_time,
                magnitude=magnitude,
                detail=detail,
                **where,
            )
        )

    def save(self) -> None:
        InjectedFault.objects.bulk_create(self.injected)
