"""Positions, FIFO tax lots, realized P&L, cash, capital flows, income and fees."""

from __future__ import annotations

from django.db import models

from .fields import MoneyField, PriceField, QuantityField, RateField
from .reference import Currency, Instrument, Mandate
from .trading import Trade


class Position(models.Model):
    """What a mandate holds of one instrument now (trade-date basis), kept on every booking."""

    mandate = models.ForeignKey(Mandate, on_delete=models.PROTECT, related_name="positions")
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="positions")
    quantity = QuantityField(default=0)
    cost_basis = MoneyField(default=0, help_text="Cost of the open lots, instrument currency")
    realized_pnl = MoneyField(default=0, help_text="Since inception, instrument currency")
    updated_tick = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["mandate", "instrument"]
        constraints = [
            models.UniqueConstraint(fields=["mandate", "instrument"], name="book_position_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.mandate} {self.instrument} {self.quantity}"


class TaxLot(models.Model):
    """An open (or closed) FIFO lot: what one trade added, and how much of it is left.
    Quantities are signed: a short lot is negative."""

    mandate = models.ForeignKey(Mandate, on_delete=models.PROTECT, related_name="lots")
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="lots")
    opening_trade = models.ForeignKey(Trade, on_delete=models.PROTECT, related_name="lots_opened")
    open_date = models.DateField()
    original_quantity = QuantityField()
    open_quantity = QuantityField()
    unit_cost = PriceField(help_text="Per unit, costs included, instrument currency")

    class Meta:
        ordering = ["mandate", "instrument", "open_date", "id"]
        indexes = [models.Index(fields=["mandate", "instrument", "id"], name="book_lot_fifo")]

    def __str__(self) -> str:
        return f"lot {self.pk} {self.instrument} {self.open_quantity}/{self.original_quantity}"


class LotRelief(models.Model):
    """Part of a lot closed by a trade, with the realized P&L it made (FIFO)."""

    lot = models.ForeignKey(TaxLot, on_delete=models.PROTECT, related_name="reliefs")
    closing_trade = models.ForeignKey(Trade, on_delete=models.PROTECT, related_name="reliefs")
    quantity = QuantityField(help_text="Signed like the lot it closes")
    unit_cost = PriceField()
    unit_proceeds = PriceField()
    realized_pnl = MoneyField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.closing_trade} closes {self.quantity} of lot {self.lot_id}"


class CashStatus(models.TextChoices):
    PROJECTED = "projected", "Projected"
    SETTLED = "settled", "Settled"
    CANCELLED = "cancelled", "Cancelled"


class CashKind(models.TextChoices):
    TRADE = "trade", "Trade settlement"
    SUBSCRIPTION = "subscription", "Subscription"
    REDEMPTION = "redemption", "Redemption"
    DIVIDEND = "dividend", "Dividend"
    COUPON = "coupon", "Coupon"
    FEE = "fee", "Management fee"


class CashMovement(models.Model):
    """A cash flow of a mandate in one currency: projected until its value date, then settled."""

    mandate = models.ForeignKey(Mandate, on_delete=models.PROTECT, related_name="cash_movements")
    currency = models.ForeignKey(Currency, on_delete=models.PROTECT, related_name="+")
    amount = MoneyField(help_text="Signed: positive in, negative out")
    kind = models.CharField(max_length=12, choices=CashKind.choices)
    trade = models.ForeignKey(
        Trade, on_delete=models.PROTECT, null=True, blank=True, related_name="cash_movements"
    )
    reference = models.CharField(
        max_length=32, blank=True, default="", help_text="Flow or income id"
    )
    value_date = models.DateField(db_index=True)
    status = models.CharField(
        max_length=10, choices=CashStatus.choices, default=CashStatus.PROJECTED
    )
    tick = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["status", "value_date"], name="book_cash_due")]

    def __str__(self) -> str:
        return f"{self.mandate} {self.currency} {self.amount} {self.kind} {self.status}"


class CashBalance(models.Model):
    """A mandate's cash in one currency: settled now, and projected with everything pending."""

    mandate = models.ForeignKey(Mandate, on_delete=models.PROTECT, related_name="cash_balances")
    currency = models.ForeignKey(Currency, on_delete=models.PROTECT, related_name="+")
    settled = MoneyField(default=0)
    projected = MoneyField(default=0)

    class Meta:
        ordering = ["mandate", "currency"]
        constraints = [
            models.UniqueConstraint(
                fields=["mandate", "currency"], name="book_cash_balance_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.mandate} {self.currency} {self.settled}/{self.projected}"


class FlowKind(models.TextChoices):
    SUBSCRIPTION = "subscription", "Subscription"
    REDEMPTION = "redemption", "Redemption"


class CapitalFlow(models.Model):
    """Money coming into or leaving a mandate, as units issued or redeemed at a NAV per unit."""

    flow_id = models.CharField(max_length=16, unique=True)
    mandate = models.ForeignKey(Mandate, on_delete=models.PROTECT, related_name="capital_flows")
    kind = models.CharField(max_length=12, choices=FlowKind.choices)
    units = QuantityField()
    nav_per_unit = PriceField()
    amount = MoneyField()
    trade_date = models.DateField()
    settlement_date = models.DateField()
    tick = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(units__gt=0) & models.Q(amount__gt=0), name="book_flow_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.flow_id


class ActionKind(models.TextChoices):
    CASH_DIVIDEND = "cash_dividend", "Cash dividend"
    SPLIT = "split", "Stock split"


class CorporateAction(models.Model):
    """A dividend or split of an instrument, announced with its dates."""

    instrument = models.ForeignKey(
        Instrument, on_delete=models.PROTECT, related_name="corporate_actions"
    )
    kind = models.CharField(max_length=16, choices=ActionKind.choices)
    ex_date = models.DateField(db_index=True)
    pay_date = models.DateField()
    amount_per_unit = PriceField(default=0, help_text="Cash dividends")
    ratio = RateField(default=1, help_text="Splits: new units per old unit")
    currency = models.ForeignKey(Currency, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-ex_date"]
        constraints = [
            models.UniqueConstraint(
                fields=["instrument", "kind", "ex_date"], name="book_action_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.instrument} {self.kind} ex {self.ex_date}"


class IncomeKind(models.TextChoices):
    DIVIDEND = "dividend", "Dividend"
    COUPON = "coupon", "Coupon"


class IncomeStatus(models.TextChoices):
    ACCRUED = "accrued", "Accrued (entitled, not yet paid)"
    PAID = "paid", "Paid"


class IncomeEntitlement(models.Model):
    """What a mandate is owed from a dividend or coupon: fixed at the ex-date, paid later."""

    income_id = models.CharField(max_length=16, unique=True)
    mandate = models.ForeignKey(Mandate, on_delete=models.PROTECT, related_name="income")
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=10, choices=IncomeKind.choices)
    corporate_action = models.ForeignKey(
        CorporateAction,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="entitlements",
    )
    ex_date = models.DateField()
    pay_date = models.DateField()
    quantity = QuantityField()
    amount = MoneyField()
    currency = models.ForeignKey(Currency, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        max_length=8, choices=IncomeStatus.choices, default=IncomeStatus.ACCRUED
    )

    class Meta:
        ordering = ["-ex_date"]
        constraints = [
            models.UniqueConstraint(
                fields=["mandate", "instrument", "kind", "ex_date"], name="book_income_once"
            ),
        ]

    def __str__(self) -> str:
        return self.income_id


class FeeAccrual(models.Model):
    """One day's management fee of a mandate, accrued on its NAV."""

    mandate = models.ForeignKey(Mandate, on_delete=models.PROTECT, related_name="fee_accruals")
    accrual_date = models.DateField()
    nav_basis = MoneyField()
    rate = RateField()
    amount = MoneyField()
    currency = models.ForeignKey(Currency, on_delete=models.PROTECT, related_name="+")
    paid = models.BooleanField(default=False)

    class Meta:
        ordering = ["-accrual_date"]
        constraints = [
            models.UniqueConstraint(fields=["mandate", "accrual_date"], name="book_fee_once_a_day"),
        ]

    def __str__(self) -> str:
        return f"{self.mandate} fee {self.accrual_date} {self.amount}"
