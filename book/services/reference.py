"""Reference data writes: loading a universe of instruments, counterparties and mandates."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction

from .. import events
from ..models import (
    BenchmarkWeight,
    BondTerms,
    Broker,
    Currency,
    Custodian,
    CustodyAccount,
    Instrument,
    Mandate,
    Trader,
)
from ..universe import CURRENCIES, Universe
from .events import event_record


@dataclass(frozen=True)
class UniverseLoadSummary:
    instruments_created: int
    mandates_created: int
    instruments: dict[str, int]  # ticker -> id, for every instrument of the universe


@transaction.atomic
def universe_load(
    *, universe: Universe, inception_date: dt.date, actor: Any = None
) -> UniverseLoadSummary:
    """Store a universe; what exists already (same ticker or code) is kept as it is."""
    for code, (name, minor) in CURRENCIES.items():
        Currency.objects.get_or_create(code=code, defaults={"name": name, "minor_units": minor})

    existing = dict(Instrument.objects.values_list("ticker", "id"))
    new = [spec for spec in universe.instruments if spec.ticker not in existing]
    Instrument.objects.bulk_create(
        [
            Instrument(
                ticker=spec.ticker,
                isin=spec.isin,
                name=spec.name,
                asset_class=spec.asset_class,
                currency_id=spec.currency,
                sector=spec.sector,
                country=spec.country,
                base_currency_id=spec.base_currency,
            )
            for spec in new
        ],
        batch_size=500,
    )
    ids = dict(Instrument.objects.values_list("ticker", "id"))
    BondTerms.objects.bulk_create(
        [
            BondTerms(
                instrument_id=ids[spec.ticker],
                coupon_rate=Decimal(str(spec.coupon_rate)),
                frequency=spec.frequency,
                day_count=spec.day_count,
                issue_date=spec.issue_date,
                maturity_date=spec.maturity_date,
                issuer=spec.issuer,
                rating=spec.rating,
            )
            for spec in new
            if spec.coupon_rate is not None
        ],
        batch_size=500,
    )

    for spec in universe.brokers:
        Broker.objects.get_or_create(
            code=spec.code,
            defaults={
                "name": spec.name,
                "commission_bps": spec.commission_bps,
                "min_commission": spec.min_commission,
                "confirmation_lag_ticks": spec.confirmation_lag_ticks,
                "confirms_per_order": spec.confirms_per_order,
            },
        )
    custodians = {
        code: Custodian.objects.get_or_create(code=code, defaults={"name": name})[0]
        for code, name in universe.custodians
    }
    for code, name in universe.traders:
        Trader.objects.get_or_create(code=code, defaults={"name": name})

    mandates_created = 0
    for spec in universe.mandates:
        if Mandate.objects.filter(code=spec.code).exists():
            continue
        account = CustodyAccount.objects.create(
            code=f"{spec.custodian}-{spec.code}",
            custodian=custodians[spec.custodian],
            name=f"{spec.name} at {custodians[spec.custodian].name}",
        )
        mandate = Mandate.objects.create(
            code=spec.code,
            name=spec.name,
            base_currency_id=spec.base_currency,
            strategy=spec.strategy,
            custody_account=account,
            inception_date=inception_date,
            management_fee_rate=spec.management_fee_rate,
        )
        BenchmarkWeight.objects.bulk_create(
            [
                BenchmarkWeight(
                    mandate=mandate,
                    instrument_id=ids[key] if kind == "instrument" else None,
                    sector=key if kind == "sector" else "",
                    asset_class=key if kind == "asset_class" else "",
                    weight=weight,
                )
                for kind, key, weight in spec.benchmark
            ]
        )
        mandates_created += 1

    if new or mandates_created:
        event_record(
            kind=events.REFERENCE_LOADED,
            source=events.Source.BOOK,
            actor=actor,
            payload={"instruments_created": len(new), "mandates_created": mandates_created},
        )
    return UniverseLoadSummary(
        instruments_created=len(new),
        mandates_created=mandates_created,
        instruments={spec.ticker: ids[spec.ticker] for spec in universe.instruments},
    )
