"""Orders, executions, allocations and trades (with their immutable versions)."""

from __future__ import annotations

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from .fields import MoneyField, PriceField, QuantityField
from .reference import Broker, Currency, Instrument, Mandate, Trader


class Side(models.TextChoices):
    BUY = "buy", "Buy"
    SELL = "sell", "Sell"


class TimeInForce(models.TextChoices):
    DAY = "day", "Day (remainder expires at the close)"
    GTC = "gtc", "Good till cancelled"


class OrderStatus(models.TextChoices):
    OPEN = "open", "Open"
    PARTIALLY_FILLED = "partially_filled", "Partially filled"
    FILLED = "filled", "Filled"
    EXPIRED = "expired", "Expired"
    CANCELLED = "cancelled", "Cancelled"


class Order(models.Model):
    """An order sent to a broker: for one mandate, or a block for several (allocated after)."""

    order_id = models.CharField(max_length=16, unique=True)
    mandate = models.ForeignKey(
        Mandate,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="orders",
        help_text="Empty for a block order: see its allocation targets",
    )
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="orders")
    side = models.CharField(max_length=4, choices=Side.choices)
    quantity = QuantityField()
    filled_quantity = QuantityField(default=0)
    limit_price = PriceField(null=True, blank=True)
    time_in_force = models.CharField(
        max_length=4, choices=TimeInForce.choices, default=TimeInForce.DAY
    )
    status = models.CharField(max_length=16, choices=OrderStatus.choices, default=OrderStatus.OPEN)
    broker = models.ForeignKey(Broker, on_delete=models.PROTECT, related_name="orders")
    trader = models.ForeignKey(Trader, on_delete=models.PROTECT, related_name="orders")
    reason = models.CharField(
        max_length=64, blank=True, default="", help_text="rebalance, flow, manual, ..."
    )
    trade_date = models.DateField()
    created_tick = models.BigIntegerField(null=True, blank=True)
    created_sim_time = models.DateTimeField()

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity__gt=0), name="book_order_quantity_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(filled_quantity__gte=0)
                & models.Q(filled_quantity__lte=models.F("quantity")),
                name="book_order_fill_within_quantity",
            ),
        ]

    def __str__(self) -> str:
        return self.order_id

    @property
    def is_block(self) -> bool:
        return self.mandate_id is None

    @property
    def remaining_quantity(self):  # type: ignore[no-untyped-def]
        return self.quantity - self.filled_quantity


class AllocationTarget(models.Model):
    """How much of a block order each mandate is to receive."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="targets")
    mandate = models.ForeignKey(Mandate, on_delete=models.PROTECT, related_name="+")
    quantity = QuantityField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["order", "mandate"], name="book_target_once_per_mandate"
            ),
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="book_target_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.order} -> {self.mandate} {self.quantity}"


class Execution(models.Model):
    """One fill of an order at the broker (an order may fill in several)."""

    execution_id = models.CharField(max_length=16, unique=True)
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="executions")
    quantity = QuantityField()
    price = PriceField()
    mid_price = PriceField(help_text="The mid when it filled; slippage is measured against it")
    executed_at = models.DateTimeField(help_text="Sim time, to the millisecond")
    tick = models.BigIntegerField(null=True, blank=True, db_index=True)
    venue = models.CharField(max_length=16, blank=True, default="")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity__gt=0), name="book_execution_quantity_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(price__gt=0), name="book_execution_price_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.execution_id


class TradeSource(models.TextChoices):
    SIMULATOR = "simulator", "Simulator"
    DOCUMENT = "document", "Document"
    IMPORT = "import", "File import"
    MANUAL = "manual", "Manual"


class TradeStatus(models.TextChoices):
    NEW = "new", "New"
    EXECUTED = "executed", "Executed"
    CONFIRMED = "confirmed", "Confirmed"
    SETTLED = "settled", "Settled"
    AMENDED = "amended", "Amended (awaiting re-confirmation)"
    CANCELLED = "cancelled", "Cancelled"


class Trade(models.Model):
    """A booked trade of one mandate: its current terms and status. Every change of terms
    is a new TradeVersion (append-only); this row is the latest view of them."""

    trade_id = models.CharField(max_length=16, unique=True)
    version = models.PositiveIntegerField(default=1)
    mandate = models.ForeignKey(Mandate, on_delete=models.PROTECT, related_name="trades")
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="trades")
    side = models.CharField(max_length=4, choices=Side.choices)
    quantity = QuantityField()
    price = PriceField()
    gross = MoneyField(help_text="quantity x price (x face/100 for bonds)")
    commission = MoneyField(default=0)
    fees = MoneyField(default=0)
    accrued_interest = MoneyField(default=0, help_text="Bonds: interest bought or sold")
    net = MoneyField(help_text="Cash paid (buy) or received (sell), always positive")
    currency = models.ForeignKey(Currency, on_delete=models.PROTECT, related_name="+")
    trade_time = models.DateTimeField(help_text="Sim time")
    trade_date = models.DateField(db_index=True)
    settlement_date = models.DateField(db_index=True)
    broker = models.ForeignKey(Broker, on_delete=models.PROTECT, related_name="trades")
    trader = models.ForeignKey(Trader, on_delete=models.PROTECT, related_name="trades")
    order = models.ForeignKey(
        Order, on_delete=models.PROTECT, null=True, blank=True, related_name="trades"
    )
    execution = models.ForeignKey(
        Execution, on_delete=models.PROTECT, null=True, blank=True, related_name="trades"
    )
    source = models.CharField(max_length=10, choices=TradeSource.choices)
    status = models.CharField(max_length=10, choices=TradeStatus.choices, db_index=True)
    tick = models.BigIntegerField(null=True, blank=True, db_index=True)
    booked_at = models.DateTimeField(auto_now_add=True, help_text="Wall time")

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["mandate", "instrument"], name="book_trade_mandate_instr")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity__gt=0), name="book_trade_quantity_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(price__gt=0), name="book_trade_price_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(settlement_date__gte=models.F("trade_date")),
                name="book_trade_settles_after_trade",
            ),
            models.CheckConstraint(
                condition=models.Q(commission__gte=0) & models.Q(fees__gte=0),
                name="book_trade_costs_nonnegative",
            ),
        ]

    def __str__(self) -> str:
        return self.trade_id

    @property
    def signed_quantity(self):  # type: ignore[no-untyped-def]
        return self.quantity if self.side == Side.BUY else -self.quantity


class TradeVersion(models.Model):
    """One version of a trade's terms, as booked, amended or cancelled: never edited."""

    trade = models.ForeignKey(Trade, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=TradeStatus.choices)
    terms = models.JSONField(encoder=DjangoJSONEncoder)
    reason = models.CharField(max_length=200)
    actor = models.CharField(max_length=150, default="system")
    tick = models.BigIntegerField(null=True, blank=True)
    sim_time = models.DateTimeField(
        null=True, blank=True, help_text="Sim time the version was recorded (booked, changed)"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["trade_id", "version"]
        constraints = [
            models.UniqueConstraint(fields=["trade", "version"], name="book_trade_version_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.trade.trade_id} v{self.version}"
