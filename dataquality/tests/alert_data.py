"""Test data for data quality's alert, API, page and browser tests: the demo universe
(no tick run) with a trade booked for GEQ and one for USFI, handles on what a mandate
holds and what it does not, findings built by hand (what the check engine would return)
to pass to `services.alerts_apply`, and a small queue of alerts over two stored runs.

    @pytest.fixture
    def universe(db):
        return universe_load()
"""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal
from typing import Any

from dataquality.checks import Finding

SEED = 20150102
START = dt.datetime(2015, 1, 5, 14, 30, tzinfo=dt.UTC)  # Monday, 9:30 in New York
TICK = dt.timedelta(minutes=15)


def at(tick: int) -> dt.datetime:
    """The sim time of tick `tick` in these tests (15-minute ticks from START)."""
    return START + tick * TICK


class Ref:
    """Handles on a loaded demo universe with two trades booked: GEQ (global equities)
    holds `held`, an equity; USFI holds `other`, a government bond GEQ does not hold;
    `unheld` is an equity nobody holds; `fx` an FX pair."""

    def __init__(self) -> None:
        from book.models import Broker, Instrument, Mandate, Trader
        from book.services import trade_book

        self.mandate = Mandate.objects.select_related("custody_account").get(code="GEQ")
        equities = Instrument.objects.filter(asset_class="equity", currency="USD").order_by("pk")
        self.held, self.unheld = equities[0], equities[1]
        self.other = Instrument.objects.filter(asset_class="govt_bond").order_by("pk").first()
        self.fx = Instrument.objects.filter(asset_class="fx").order_by("ticker").first()
        broker = Broker.objects.order_by("code").first()
        trader = Trader.objects.order_by("code").first()
        for mandate, instrument, price in [
            (self.mandate, self.held, "25.50"),
            (Mandate.objects.get(code="USFI"), self.other, "100.25"),
        ]:
            trade_book(
                mandate_id=mandate.pk,
                instrument_id=instrument.pk,
                side="buy",
                quantity=Decimal("1000"),
                price=Decimal(price),
                trade_time=dt.datetime(2015, 1, 2, 15, 0, tzinfo=dt.UTC),
                broker_id=broker.pk,
                trader_id=trader.pk,
            )


def universe_load() -> Ref:
    """Load the demo universe, store the rules, book the two trades (each test module's
    `universe` fixture calls this, inside the test's transaction)."""
    from dataquality import services
    from simulator.services import sim_universe_load

    sim_universe_load(seed=SEED, scale="demo", start_date=dt.date(2015, 1, 2))
    services.rules_ensure()
    return Ref()


def finding(
    instrument: Any = None,
    *,
    rule: str = "price.vendor_deviation",
    severity: str = "critical",
    source: str = "primary",
    entity_kind: str = "instrument",
    entity_key: str | None = None,
    inputs: tuple[str, ...] | None = None,
    value: float = 101.5,
    reference: float = 100.0,
    tolerance: float = 20.0,
    measured: float = 149.3,
    unit: str = "bp",
    rule_version: int = 1,
    message: str | None = None,
) -> Finding:
    """A finding on one instrument's price from one vendor (by default: the primary
    vendor 150 bp away from the secondary, against a 20 bp tolerance)."""
    key = entity_key if entity_key is not None else str(instrument.pk)
    if inputs is None:
        inputs = (f"instrument:{instrument.pk}", f"price:{instrument.pk}:{source}")
    return Finding(
        rule=rule,
        rule_version=rule_version,
        severity=severity,  # type: ignore[arg-type]
        entity_kind=entity_kind,
        entity_key=key,
        source=source,
        value=value,
        value_source=source,
        reference=reference,
        reference_source="secondary",
        tolerance=tolerance,
        measured=measured,
        unit=unit,
        inputs=inputs,
        message=message or f"{rule} on {key}: {measured} {unit} against {tolerance}",
        asset_class=getattr(instrument, "asset_class", "") or "",
        detail={"vix": 17.5},
    )


def apply(tick: int, findings: list[Finding]) -> dict[str, int]:
    """One run's findings into the alerts, at tick `tick`'s sim time."""
    from dataquality import services

    return services.alerts_apply(findings, tick=tick, sim_time=at(tick))


class Queue:
    """The alerts `queue_build` leaves, by what they are about (alert ids)."""

    def __init__(self, ref: Ref) -> None:
        self.ref = ref
        self.held = ""  # critical vendor deviation on GEQ's equity (primary): blocks GEQ
        self.unheld = ""  # a stale price warning on an equity nobody holds
        self.other = ""  # critical, on USFI's bond (secondary): blocks USFI, not GEQ
        self.statement = ""  # GEQ's custodian statement late (warning)
        self.cleared = ""  # a spike on the unheld equity at tick 1, cleared at tick 2


def queue_build(ref: Ref) -> Queue:
    """Two check runs (ticks 1 and 2) and their alerts: four active, one cleared; the
    clock at tick 2."""
    from dataquality import services
    from dataquality.models import Alert
    from simulator.models import Clock

    account = ref.mandate.custody_account.code
    held = finding(ref.held, message="GEQ's equity: primary 150 bp from secondary")
    unheld = finding(
        ref.unheld,
        rule="price.stale",
        severity="warning",
        measured=35.6,
        tolerance=11.1,
        message="unheld equity: primary price unchanged while secondary moved",
    )
    other = finding(
        ref.other,
        source="secondary",
        measured=-96.0,
        tolerance=10.0,
        message="USFI's bond: secondary 96 bp from primary",
    )
    statement = finding(
        None,
        rule="holding.late_statement",
        severity="warning",
        source="custodian",
        entity_kind="statement",
        entity_key=account,
        inputs=(f"custodian:{account}", f"mandate:{ref.mandate.code}"),
        value=float("nan"),
        reference=float("nan"),
        tolerance=0.0,
        measured=45.0,
        unit="minutes",
        message=f"statement for {account} not received",
    )
    spike = finding(
        ref.unheld,
        rule="price.spike",
        unit="log_return",
        measured=0.21,
        tolerance=0.03,
        message="spike on the unheld equity",
    )
    runs = [(1, [held, unheld, other, spike]), (2, [held, unheld, other, statement])]
    evaluated = {
        ("price.vendor_deviation", "primary"): 84,
        ("price.vendor_deviation", "secondary"): 84,
        ("price.stale", "primary"): 84,
        ("price.stale", "secondary"): 84,
        ("price.spike", "primary"): 84,
        ("price.spike", "secondary"): 84,
        ("holding.late_statement", "custodian"): 5,
    }
    for tick, found in runs:
        applied = apply(tick, found)
        services.run_record(
            tick=tick,
            sim_time=at(tick),
            findings=found,
            evaluated=evaluated,
            instruments=84,
            started=time.perf_counter(),
            applied=applied,
        )
    Clock.objects.filter(pk=1).update(last_tick=2, last_tick_sim_time=at(2))
    queue = Queue(ref)
    for name, f in [("held", held), ("unheld", unheld), ("other", other), ("statement", statement)]:
        key = "|".join(f.dedup_key)
        setattr(queue, name, Alert.objects.get(dedup_key=key, status="open").alert_id)
    queue.cleared = Alert.objects.get(rule="price.spike", status="resolved").alert_id
    return queue
