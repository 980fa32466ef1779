"""The simulator: its clock and ticks, FRED history, market state, vendor prices, FX,
scenarios and the ground truth of every fault it injected."""

from __future__ import annotations

import datetime as dt

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from book.models import Instrument, Mandate
from book.models.fields import PriceField, RateField

# The first session: inside both the offline FRED subset (VIX and S&P 500, 2014-2018) and
# the window where the shared FRED test series overlap (2011-10-28 to 2016-10-28).
DEFAULT_START_DATE = dt.date(2015, 1, 2)


class Clock(models.Model):
    """The one simulator clock (a single row, pk=1): where sim time stands and how it moves."""

    start_date = models.DateField(default=DEFAULT_START_DATE, help_text="First session")
    tick_minutes = models.PositiveIntegerField(default=15, help_text="Must divide 390")
    last_tick = models.BigIntegerField(default=0, help_text="Last tick whose pipeline completed")
    last_tick_sim_time = models.DateTimeField(null=True, blank=True)
    last_tick_at = models.DateTimeField(null=True, blank=True, help_text="Wall time")
    running = models.BooleanField(default=True)
    seed = models.BigIntegerField(default=20120103, help_text="Same seed, same market and trades")
    scenario = models.ForeignKey(
        "Scenario", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(pk=1), name="simulator_clock_singleton"),
            models.CheckConstraint(
                condition=models.Q(last_tick__gte=0), name="simulator_clock_tick_nonnegative"
            ),
        ]

    def __str__(self) -> str:
        return f"clock at tick {self.last_tick}"

    def slot_for(self, tick: int):  # type: ignore[no-untyped-def]
        """Where tick `tick` falls in sim time (simulator.calendar.TickSlot)."""
        from .calendar import tick_slot

        return tick_slot(tick, start_date=self.start_date, tick_minutes=self.tick_minutes)

    def sim_time_for(self, tick: int) -> dt.datetime:
        return self.slot_for(tick).sim_time


class TickStatus(models.TextChoices):
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class Tick(models.Model):
    """One run of the tick pipeline: who claimed it, when, how each step went."""

    number = models.BigIntegerField(primary_key=True)
    sim_time = models.DateTimeField()
    status = models.CharField(max_length=8, choices=TickStatus.choices, default=TickStatus.RUNNING)
    claimed_by = models.CharField(max_length=200)
    claimed_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=1)
    # [{"step": "simulator", "seconds": 0.01}, ...] in the order the steps ran.
    steps = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(number__gte=1), name="simulator_tick_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"tick {self.number} ({self.status})"

    @property
    def duration_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.claimed_at).total_seconds()


class ObservationSource(models.TextChoices):
    FREDAPI = "fredapi", "FRED API (fredapi)"
    CSV = "csv", "FRED CSV download"
    OFFLINE = "offline", "Offline series shipped in a PyPI package"


class FredObservation(models.Model):
    """One observation of a FRED series on a date, and where it was loaded from."""

    series_id = models.CharField(max_length=32)
    date = models.DateField()
    value = models.DecimalField(max_digits=20, decimal_places=6)
    source = models.CharField(max_length=8, choices=ObservationSource.choices)
    source_detail = models.CharField(max_length=200, blank=True, default="")
    loaded_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["series_id", "date"]
        constraints = [
            models.UniqueConstraint(fields=["series_id", "date"], name="simulator_fred_obs_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.series_id} {self.date} {self.value}"


class Regime(models.TextChoices):
    CALM = "calm", "Calm"
    NORMAL = "normal", "Normal"
    STRESSED = "stressed", "Stressed"
    CRISIS = "crisis", "Crisis"


class Scenario(models.Model):
    """A named set of fault rates (per fault kind, chance per opportunity)."""

    name = models.CharField(max_length=32, unique=True)
    description = models.TextField(blank=True, default="")
    fault_rates = models.JSONField(default=dict, blank=True)
    builtin = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SimInstrument(models.Model):
    """How the simulator moves one instrument: factor loadings, volatility, start price."""

    instrument = models.OneToOneField(
        Instrument, on_delete=models.CASCADE, primary_key=True, related_name="sim"
    )
    beta = RateField(default=1)
    sector_beta = RateField(default=1)
    idio_vol = RateField(default="0.25", help_text="Annualised idiosyncratic volatility")
    initial_price = PriceField()
    credit_spread_bp = RateField(default=0, help_text="Bonds: spread over the curve")
    dividend_yield = RateField(default=0)

    def __str__(self) -> str:
        return f"sim {self.instrument}"


class MarketSnapshot(models.Model):
    """The market state of one tick: regime, macro inputs (with their FRED provenance),
    the treasury curve and the factor returns the prices were drawn from."""

    tick = models.BigIntegerField(primary_key=True)
    sim_time = models.DateTimeField()
    sim_date = models.DateField(db_index=True)
    regime = models.CharField(max_length=8, choices=Regime.choices)
    vix = models.DecimalField(max_digits=10, decimal_places=4)
    market_return = models.FloatField(help_text="Market factor return over this tick")
    macro = models.JSONField(
        encoder=DjangoJSONEncoder, help_text="{name: {series, date, value, source}}"
    )
    curve = models.JSONField(help_text="{tenor_years: yield (fraction)}")
    credit_spread = models.FloatField(help_text="BAA-AAA, as a fraction")

    class Meta:
        ordering = ["-tick"]

    def __str__(self) -> str:
        return f"market @ tick {self.tick} ({self.regime})"


class Vendor(models.TextChoices):
    PRIMARY = "primary", "Primary vendor"
    SECONDARY = "secondary", "Secondary vendor"


class Price(models.Model):
    """One vendor's price of one instrument at one tick."""

    tick = models.BigIntegerField()
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="prices")
    vendor = models.CharField(max_length=10, choices=Vendor.choices)
    price = PriceField()
    sim_time = models.DateTimeField()

    class Meta:
        ordering = ["-tick", "instrument"]
        constraints = [
            models.UniqueConstraint(
                fields=["instrument", "vendor", "tick"], name="simulator_price_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.instrument} {self.vendor} {self.price} @ {self.tick}"


class FxQuote(models.Model):
    """One source's FX rate for a pair at one tick (units of quote currency per base)."""

    tick = models.BigIntegerField()
    pair = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="fx_quotes")
    source = models.CharField(max_length=10, choices=Vendor.choices)
    rate = RateField()
    sim_time = models.DateTimeField()

    class Meta:
        ordering = ["-tick", "pair"]
        constraints = [
            models.UniqueConstraint(fields=["pair", "source", "tick"], name="simulator_fx_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.pair} {self.source} {self.rate} @ {self.tick}"


class FaultKind(models.TextChoices):
    PRICE_SPIKE = "price_spike", "Price spike"
    STALE_PRICE = "stale_price", "Stale price"
    MISSING_PRICE = "missing_price", "Missing price"
    VENDOR_DISAGREEMENT = "vendor_disagreement", "Vendor disagreement"
    FX_SOURCE_MISMATCH = "fx_source_mismatch", "FX source mismatch"
    CONFIRMATION_PRICE = "confirmation_price", "Confirmation price error"
    CONFIRMATION_QUANTITY = "confirmation_quantity", "Confirmation quantity error"
    CONFIRMATION_TIME = "confirmation_time", "Confirmation time error"
    CONFIRMATION_SIDE = "confirmation_side", "Confirmation side error"
    MISSING_CONFIRMATION = "missing_confirmation", "Missing confirmation"
    DUPLICATE_CONFIRMATION = "duplicate_confirmation", "Duplicate confirmation"
    CUSTODIAN_QUANTITY = "custodian_quantity", "Custodian quantity break"
    LATE_STATEMENT = "late_statement", "Late custodian statement"
    MISSED_CORPORATE_ACTION = "missed_corporate_action", "Missed corporate action"
    FAILED_SETTLEMENT = "failed_settlement", "Failed settlement"
    SPLIT_NOT_REFLECTED = "split_not_reflected", "Split not reflected in a vendor's price"
    SCALE_ERROR = "scale_error", "Scale error in a vendor's price (x100 or /100)"


class InjectedFault(models.Model):
    """Ground truth: a fault the simulator injected on purpose. Modules must find faults in
    the data, never by reading this table; the admin and the scorecard read it."""

    kind = models.CharField(max_length=24, choices=FaultKind.choices, db_index=True)
    tick = models.BigIntegerField(db_index=True)
    sim_time = models.DateTimeField()
    trade_id = models.CharField(max_length=16, blank=True, default="", db_index=True)
    instrument = models.ForeignKey(
        Instrument, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    mandate = models.ForeignKey(
        Mandate, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    magnitude = models.FloatField(default=0, help_text="Size of the fault (relative, or units)")
    detail = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)

    class Meta:
        ordering = ["-tick", "id"]

    def __str__(self) -> str:
        return f"{self.kind} @ {self.tick}"


class ModelClose(models.Model):
    """Ground truth: the model's own closing price of an instrument on a session date, before
    any vendor rounding, disagreement or fault. The next day's paths start from it."""

    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="+")
    sim_date = models.DateField()
    price = models.FloatField()

    class Meta:
        ordering = ["-sim_date", "instrument"]
        constraints = [
            models.UniqueConstraint(
                fields=["instrument", "sim_date"], name="simulator_model_close_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.instrument} {self.sim_date} {self.price}"
