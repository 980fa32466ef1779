import datetime as dt

import pytest

from book.models import Broker, Instrument, Mandate, Trader
from book.services import universe_load
from book.universe import build_universe

AS_OF = dt.date(2015, 1, 2)


class Ref:
    """Handles on a loaded demo universe for tests."""

    def __init__(self) -> None:
        self.mandate = Mandate.objects.get(code="GEQ")
        self.other_mandate = Mandate.objects.get(code="BAL")
        self.equity = Instrument.objects.filter(asset_class="equity", currency="USD").first()
        self.equity2 = Instrument.objects.filter(asset_class="equity", currency="USD")[1]
        self.govt_bond = Instrument.objects.filter(asset_class="govt_bond").first()
        self.fx = Instrument.objects.get(ticker="EURUSD")
        self.broker = Broker.objects.get(code="GSCO")
        self.trader = Trader.objects.first()


@pytest.fixture
def ref(db) -> Ref:  # noqa: ANN001
    universe_load(universe=build_universe(seed=11, scale="demo", as_of=AS_OF), inception_date=AS_OF)
    return Ref()
