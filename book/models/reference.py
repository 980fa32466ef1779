"""Reference data: currencies, the security master, counterparties, mandates."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models

from ..identifiers import isin_is_valid
from .fields import MoneyField, QuantityField, RateField


class Currency(models.Model):
    """An ISO 4217 currency the book holds or trades."""

    code = models.CharField(max_length=3, primary_key=True)
    name = models.CharField(max_length=64)
    minor_units = models.PositiveSmallIntegerField(default=2)

    class Meta:
        verbose_name_plural = "currencies"
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class AssetClass(models.TextChoices):
    EQUITY = "equity", "Equity"
    GOVT_BOND = "govt_bond", "Government bond"
    CORP_BOND = "corp_bond", "Corporate bond"
    FX = "fx", "FX pair"
    CASH = "cash", "Cash"


class Instrument(models.Model):
    """One security in the security master (equity, bond, FX pair or cash)."""

    ticker = models.CharField(max_length=32, unique=True)
    isin = models.CharField(max_length=12, unique=True, null=True, blank=True)  # noqa: DJ001 - FX/cash have none
    name = models.CharField(max_length=200)
    asset_class = models.CharField(max_length=12, choices=AssetClass.choices, db_index=True)
    currency = models.ForeignKey(Currency, on_delete=models.PROTECT, related_name="+")
    sector = models.CharField(max_length=64, blank=True, default="", db_index=True)
    country = models.CharField(max_length=2, blank=True, default="")
    # FX pairs: base/quote, e.g. EURUSD = 1 EUR in USD (currency is the quote currency).
    base_currency = models.ForeignKey(
        Currency, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["ticker"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(asset_class="fx") | models.Q(base_currency__isnull=False),
                name="book_instrument_fx_has_base",
            ),
        ]

    def __str__(self) -> str:
        return self.ticker

    def clean(self) -> None:
        if self.isin and not isin_is_valid(self.isin):
            raise ValidationError({"isin": f"{self.isin} is not a valid ISIN (check digit)"})

    @property
    def is_bond(self) -> bool:
        return self.asset_class in (AssetClass.GOVT_BOND, AssetClass.CORP_BOND)


class DayCount(models.TextChoices):
    ACT_ACT = "ACT/ACT", "Actual/Actual (ICMA)"
    THIRTY_360 = "30/360", "30/360 (bond basis)"
    ACT_360 = "ACT/360", "Actual/360"
    ACT_365F = "ACT/365F", "Actual/365 fixed"


class BondTerms(models.Model):
    """The terms of a bond: what the risk module needs to price it."""

    instrument = models.OneToOneField(
        Instrument, on_delete=models.CASCADE, primary_key=True, related_name="bond_terms"
    )
    coupon_rate = RateField(help_text="Annual coupon as a fraction (0.025 = 2.5%)")
    frequency = models.PositiveSmallIntegerField(default=2, help_text="Coupons a year")
    day_count = models.CharField(max_length=8, choices=DayCount.choices, default=DayCount.ACT_ACT)
    issue_date = models.DateField()
    maturity_date = models.DateField()
    face = MoneyField(default=100)
    issuer = models.CharField(max_length=120, blank=True, default="")
    rating = models.CharField(max_length=8, blank=True, default="")

    class Meta:
        verbose_name_plural = "bond terms"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(maturity_date__gt=models.F("issue_date")),
                name="book_bond_matures_after_issue",
            ),
            models.CheckConstraint(
                condition=models.Q(frequency__in=[1, 2, 4, 12]), name="book_bond_frequency"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.instrument} {self.coupon_rate:.4%} {self.maturity_date}"


class Broker(models.Model):
    """An executing broker, with its commission schedule and confirmation habits."""

    code = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=120)
    commission_bps = models.DecimalField(max_digits=8, decimal_places=3, default=2)
    min_commission = MoneyField(default=5)
    confirmation_lag_ticks = models.PositiveSmallIntegerField(default=2)
    confirms_per_order = models.BooleanField(
        default=False, help_text="One aggregated confirmation per order, not per execution"
    )

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class Custodian(models.Model):
    """A custodian bank holding the mandates' assets."""

    code = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=120)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class CustodyAccount(models.Model):
    """An account at a custodian, where one mandate's assets sit."""

    code = models.CharField(max_length=32, unique=True)
    custodian = models.ForeignKey(Custodian, on_delete=models.PROTECT, related_name="accounts")
    name = models.CharField(max_length=120)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class Trader(models.Model):
    """A person (or desk) who places orders."""

    code = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=120)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class Strategy(models.TextChoices):
    EQUITY_CORE = "equity_core", "Core equity (benchmark-aware)"
    EQUITY_SECTOR = "equity_sector", "Sector rotation"
    BALANCED = "balanced", "Balanced (equity and bonds)"
    FIXED_INCOME = "fixed_income", "Fixed income"
    GLOBAL_MACRO = "global_macro", "Global (equities, bonds, FX)"


class Mandate(models.Model):
    """A portfolio run for a client: its strategy, benchmark, account and units."""

    code = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=120)
    base_currency = models.ForeignKey(Currency, on_delete=models.PROTECT, related_name="+")
    strategy = models.CharField(max_length=16, choices=Strategy.choices)
    custody_account = models.OneToOneField(
        CustodyAccount, on_delete=models.PROTECT, related_name="mandate"
    )
    inception_date = models.DateField()
    units_outstanding = QuantityField(default=0)
    management_fee_rate = RateField(default=0, help_text="Annual, as a fraction of NAV")
    drift_band = RateField(default="0.02", help_text="Rebalance when a weight drifts this far")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class BenchmarkWeight(models.Model):
    """One line of a mandate's benchmark (and target): an instrument, or a sector or asset
    class bucket, with its weight."""

    mandate = models.ForeignKey(Mandate, on_delete=models.CASCADE, related_name="benchmark")
    instrument = models.ForeignKey(
        Instrument, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    sector = models.CharField(max_length=64, blank=True, default="")
    asset_class = models.CharField(
        max_length=12, choices=AssetClass.choices, blank=True, default=""
    )
    weight = RateField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(weight__gte=0) & models.Q(weight__lte=1),
                name="book_benchmark_weight_range",
            ),
            models.CheckConstraint(
                condition=models.Q(instrument__isnull=False)
                | ~models.Q(sector="")
                | ~models.Q(asset_class=""),
                name="book_benchmark_names_a_bucket",
            ),
        ]

    def __str__(self) -> str:
        bucket = self.instrument or self.sector or self.asset_class
        return f"{self.mandate} {bucket} {self.weight}"
