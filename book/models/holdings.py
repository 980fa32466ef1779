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
    latest_date = models.DateField(
        null=True,
        blank=True,
        help_text="Latest trade date or corporate-action date in this position's history: "
        "a trade dated before it is out of date order, and the position is replayed",
    )

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
    """Part of a lot closed by a trade (or by a bond's redemption at maturity), with the
    realized P&L it made (FIFO)."""

    lot = models.ForeignKey(TaxLot, on_delete=models.PROTECT, related_name="reliefs")
    closing_trade = models.ForeignKey(
        Trade, on_delete=models.PROTECT, null=True, blank=True, related_name="reliefs"
    )
    closing_action = models.ForeignKey(
        "ActionApplication",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reliefs",
        help_text="A redemption at maturity closes lots without a trade",
    )
    quantity = QuantityField(help_text="Signed like the lot it closes")
    unit_cost = PriceField()
    unit_proceeds = PriceField()
    realized_pnl = MoneyField()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(closing_trade__isnull=False, closing_action__isnull=True)
                    | models.Q(closing_trade__isnull=True, closing_action__isnull=False)
                ),
                name="book_relief_closed_by_one",
            ),
        ]

    def __str__(self) -> str:
        closer = self.closing_trade or self.closing_action
        return f"{closer} closes {self.quantity} of lot {self.lot_id}"


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
    MATURITY = "maturity", "Redemption at maturity"


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
    REDEMPTION = "redemption", "Final redemption (maturity)"


class CorporateAction(models.Model):
    """A dividend, split or final redemption of an instrument, announced with its dates.
    A redemption's ex-date is the maturity date, its pay date the business day it pays,
    and amount_per_unit the redemption price per unit of face (1 = at par)."""

    instrument = models.ForeignKey(
        Instrument, on_delete=models.PROTECT, related_name="corporate_actions"
    )
    kind = models.CharField(max_length=16, choices=ActionKind.choices)
    ex_date = models.DateField(db_index=True)
    pay_date = models.DateField()
    amount_per_unit = PriceField(default=0, help_text="Cash dividends")
    ratio = RateField(default=1, help_text="Splits: new units per old unit (3:2 is 1.5)")
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


class ActionApplication(models.Model):
    """A corporate action applied to one mandate's holding (a split, or a bond's redemption
    at maturity): the quantities before and after, and what it paid and realized. That it
    exists is what makes applying the action again do nothing, and what a rebuild replays
    (before the trades of its effective date)."""

    application_id = models.CharField(max_length=16, unique=True)
    corporate_action = models.ForeignKey(
        CorporateAction, on_delete=models.PROTECT, related_name="applications"
    )
    mandate = models.ForeignKey(
        Mandate, on_delete=models.PROTECT, related_name="action_applications"
    )
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="+")
    effective_date = models.DateField(help_text="The ex-date of a split; a bond's maturity date")
    quantity_before = QuantityField()
    quantity_after = QuantityField()
    cash_amount = MoneyField(default=0, help_text="Redemption proceeds, instrument currency")
    realized_pnl = MoneyField(default=0, help_text="Realized by a redemption")
    tick = models.BigIntegerField(null=True, blank=True)
    sim_time = models.DateTimeField(null=True, blank=True)
    applied_at = models.DateTimeField(auto_now_add=True, help_text="Wall time")

    class Meta:
        ordering = ["effective_date", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["corporate_action", "mandate"], name="book_action_applied_once"
            ),
        ]
        indexes = [
            models.Index(
                fields=["mandate", "instrument", "effective_date"], name="book_application_pair"
            )
        ]

    def __str__(self) -> str:
        return self.application_id


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
