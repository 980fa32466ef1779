"""The generated universe: deterministic, valid identifiers, loads once."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from book.identifiers import isin_check_digit, isin_is_valid, isin_make, readable_id
from book.models import BenchmarkWeight, BondTerms, Instrument, Mandate
from book.services import universe_load
from book.universe import build_universe

AS_OF = dt.date(2015, 1, 2)


@pytest.mark.parametrize("isin", ["US0378331005", "US5949181045", "GB0002634946", "DE0007164600"])
def test_real_isins_validate(isin):
    assert isin_is_valid(isin)
    assert isin_check_digit(isin[:11]) == isin[-1]


def test_a_wrong_check_digit_is_caught():
    assert not isin_is_valid("US0378331006")
    assert not isin_is_valid("US03783310")
    assert isin_is_valid(isin_make("US", "037833100"))


def test_readable_ids():
    assert readable_id("T", 123) == "T-000123"
    assert readable_id("T", 1234567) == "T-1234567"


def test_same_seed_same_universe_other_seed_differs():
    a = build_universe(seed=7, scale="demo", as_of=AS_OF)
    b = build_universe(seed=7, scale="demo", as_of=AS_OF)
    c = build_universe(seed=8, scale="demo", as_of=AS_OF)
    assert a == b
    assert [i.ticker for i in a.instruments] != [i.ticker for i in c.instruments]


def test_standard_scale_has_a_thousand_instruments_and_twenty_mandates():
    universe = build_universe(seed=1, scale="standard", as_of=AS_OF)
    assert len(universe.instruments) == 1000
    assert len(universe.mandates) == 20
    assert len({i.ticker for i in universe.instruments}) == 1000
    isins = [i.isin for i in universe.instruments if i.isin]
    assert len(set(isins)) == len(isins) and all(isin_is_valid(i) for i in isins)


def test_benchmark_weights_add_up_to_one():
    for mandate in build_universe(seed=3, scale="demo", as_of=AS_OF).mandates:
        assert sum(w for _, _, w in mandate.benchmark) == Decimal(1), mandate.code


@pytest.mark.django_db
def test_universe_loads_once():
    universe = build_universe(seed=5, scale="demo", as_of=AS_OF)
    first = universe_load(universe=universe, inception_date=AS_OF)
    second = universe_load(universe=universe, inception_date=AS_OF)
    assert first.instruments_created == len(universe.instruments)
    assert (second.instruments_created, second.mandates_created) == (0, 0)
    assert Instrument.objects.count() == len(universe.instruments)
    assert Mandate.objects.count() == 5
    assert BondTerms.objects.count() == 24
    geq = Mandate.objects.get(code="GEQ")
    assert geq.custody_account.custodian.code == "BNYM"
    assert sum(w.weight for w in BenchmarkWeight.objects.filter(mandate=geq)) == Decimal(1)
