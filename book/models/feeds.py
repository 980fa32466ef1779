"""What arrives from outside: broker confirmations and custodian statements, as received
(they may be wrong: that is what recon is for)."""

from __future__ import annotations

from django.db import models

from .fields import MoneyField, PriceField, QuantityField
from .reference import Broker, Currency, CustodyAccount, Instrument


class FeedSource(models.TextChoices):
    SIMULATOR = "simulator", "Simulator"
    DOCUMENT = "document", "Document extraction"
    IMPORT = "import", "File import"


class BrokerConfirmation(models.Model):
    """A broker's confirmation of a fill (or of a whole order), as the broker reported it."""

    confirmation_id = models.CharField(max_length=16, unique=True)
    broker = models.ForeignKey(Broker, on_delete=models.PROTECT, related_name="confirmations")
    trade_id = models.CharField(max_length=16, blank=True, default="", db_index=True)
    order_id = models.CharField(max_length=16, blank=True, default="", db_index=True)
    ticker = models.CharField(max_length=32)
    side = models.CharField(max_length=4, blank=True, default="")
    quantity = QuantityField()
    price = PriceField()
    commission = MoneyField(default=0)
    executed_at = models.DateTimeField(help_text="Execution time as the broker reports it")
    settlement_date = models.DateField(null=True, blank=True)
    source = models.CharField(max_length=10, choices=FeedSource.choices)
    received_tick = models.BigIntegerField(null=True, blank=True, db_index=True)
    received_at = models.DateTimeField(help_text="Sim time it arrived")

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.confirmation_id


class StatementKind(models.TextChoices):
    END_OF_DAY = "eod", "End of day"
    INTRADAY = "intraday", "Intraday snapshot"


class CustodianStatement(models.Model):
    """A custodian's statement of one account's holdings and cash, as of a time."""

    statement_id = models.CharField(max_length=16, unique=True)
    custody_account = models.ForeignKey(
        CustodyAccount, on_delete=models.PROTECT, related_name="statements"
    )
    kind = models.CharField(max_length=8, choices=StatementKind.choices)
    as_of = models.DateTimeField(help_text="Sim time the balances are as of")
    received_tick = models.BigIntegerField(null=True, blank=True, db_index=True)
    received_at = models.DateTimeField(help_text="Sim time it arrived")
    source = models.CharField(max_length=10, choices=FeedSource.choices)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.statement_id


class CustodianHolding(models.Model):
    """One security line of a custodian statement (settled quantity)."""

    statement = models.ForeignKey(
        CustodianStatement, on_delete=models.CASCADE, related_name="holdings"
    )
    instrument = models.ForeignKey(
        Instrument, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reported_id = models.CharField(max_length=32, help_text="ISIN or ticker as reported")
    quantity = QuantityField()
    price = PriceField(null=True, blank=True)
    market_value = MoneyField(null=True, blank=True)

    class Meta:
        ordering = ["statement", "reported_id"]

    def __str__(self) -> str:
        return f"{self.statement} {self.reported_id} {self.quantity}"


class CustodianCash(models.Model):
    """One currency line of a custodian statement (settled cash)."""

    statement = models.ForeignKey(CustodianStatement, on_delete=models.CASCADE, related_name="cash")
    currency = models.ForeignKey(Currency, on_delete=models.PROTECT, related_name="+")
    amount = MoneyField()

    class Meta:
        ordering = ["statement", "currency"]
        verbose_name_plural = "custodian cash"

    def __str__(self) -> str:
        return f"{self.statement} {self.currency} {self.amount}"
