"""The ledger's records: the chart, journal entries and their lines (append-only, balanced,
hash-chained), balances kept with every posting, closed periods and the posting cursor.

The rules that make a bad book impossible live in three places, by design:
- ledger.engine.draft_errors and ledger.services check every entry before it is written;
- this module refuses updates and deletes of journals through the ORM;
- on PostgreSQL the database itself (migration 0002): CHECK constraints on every line,
  triggers that reject UPDATE/DELETE/TRUNCATE of journals, lines added to an entry from
  another transaction and entries dated in a closed period, and a deferred constraint
  trigger that rejects an entry whose lines do not balance, per currency and in base, at
  commit. On SQLite the UPDATE triggers exist too; the rest is the service's job.
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.db import models
from django.db.models import Q

from book.models import AppendOnlyError, Instrument, Mandate
from book.models.fields import MoneyField, RateField

from . import accounts


class Account(models.Model):
    """One account of the chart (the same codes for every mandate)."""

    code = models.CharField(max_length=4, primary_key=True)
    name = models.CharField(max_length=80)
    type = models.CharField(
        max_length=10,
        choices=[
            (t, t.capitalize()) for t in ("asset", "liability", "equity", "income", "expense")
        ],
    )
    normal_side = models.CharField(max_length=1, choices=[("D", "Debit"), ("C", "Credit")])
    by_instrument = models.BooleanField(default=False)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class _AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("journals are append-only: post a reversal instead")

    def delete(self) -> NoReturn:
        raise AppendOnlyError("journals are append-only: post a reversal instead")

    def bulk_update(self, objs: Any, fields: Any, batch_size: Any = None) -> NoReturn:
        raise AppendOnlyError("journals are append-only: post a reversal instead")

    def _raw_delete(self, using: Any) -> NoReturn:
        raise AppendOnlyError("journals are append-only: post a reversal instead")


class _AppendOnly(models.Model):
    objects = _AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("journals are append-only: post a reversal instead")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("journals are append-only: post a reversal instead")


class EntryKind(models.TextChoices):
    TRADE = "trade", "Trade (trade date)"
    SETTLEMENT = "settlement", "Trade settlement"
    CASH = "cash", "Other cash"
    INCOME = "income", "Dividend or coupon"
    FEE = "fee", "Management fee"
    FLOW = "flow", "Subscription or redemption"
    MTM = "mtm", "Mark-to-market"
    FX_REVALUATION = "fx_revaluation", "FX revaluation"
    REVERSAL = "reversal", "Reversal"
    MANUAL = "manual", "Manual journal"


class JournalEntry(_AppendOnly):
    """One posted journal entry: never edited; corrected only by a reversal."""

    # Unique and indexed through Meta, not unique=True/db_index=True: on PostgreSQL those
    # add a second, LIKE-only index to every CharField, which nothing here queries.
    journal_id = models.CharField(max_length=16)
    seq = models.BigIntegerField(unique=True, help_text="Order of recording (hash chain order)")
    mandate = models.ForeignKey(
        Mandate, on_delete=models.PROTECT, related_name="journals", db_index=False
    )  # indexed by ledger_entry_mandate_day
    kind = models.CharField(max_length=16, choices=EntryKind.choices)
    trade_id = models.CharField(max_length=16, null=True, blank=True)  # noqa: DJ001
    # Read per mandate (ledger_entry_mandate_day) or by seq: no index of its own.
    accounting_date = models.DateField()
    effective_date = models.DateField()
    effective_kind = models.CharField(
        max_length=10, choices=[(k, k) for k in ("trade", "settlement", "value")]
    )
    settles_on = models.DateField(help_text="Counts from this day on the settlement basis")
    recorded_at = models.DateTimeField()  # read with the entry (known_at), never searched
    sim_time = models.DateTimeField(null=True, blank=True)
    tick = models.BigIntegerField(null=True, blank=True)
    description = models.CharField(max_length=200)
    source_key = models.CharField(max_length=96)
    payload_hash = models.CharField(max_length=64)
    reversal_of = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversed_by"
    )
    adjusts_date = models.DateField(
        null=True, blank=True, help_text="Prior-period adjustment: the closed date it corrects"
    )
    actor = models.CharField(max_length=150, default="system")
    posted_txid = models.BigIntegerField(
        null=True, blank=True, editable=False, help_text="PostgreSQL: set by the database"
    )
    prev_hash = models.CharField(max_length=64)
    entry_hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["-seq"]
        verbose_name_plural = "journal entries"
        indexes = [
            models.Index(fields=["mandate", "accounting_date"], name="ledger_entry_mandate_day"),
            models.Index(fields=["trade_id"], name="ledger_entry_trade_id"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["journal_id"], name="ledger_entry_journal_id_unique"),
            models.UniqueConstraint(fields=["source_key"], name="ledger_entry_source_key_unique"),
            models.CheckConstraint(
                condition=Q(settles_on__isnull=False), name="ledger_entry_settles_on_set"
            ),
        ]

    def __str__(self) -> str:
        return self.journal_id


class JournalLine(_AppendOnly):
    """One debit or credit of an entry: a positive amount with its side.

    Its entry, mandate and account carry no foreign-key constraint of their own: on
    PostgreSQL one statement trigger per insert checks all three for every new line at
    once (the entry exists and is of this transaction, the line's mandate is the entry's,
    the account is in the chart), where foreign keys would run three queries per line at
    commit; entries and the chart refuse deletes, so nothing can be pulled from under a
    line later (migration 0003). Their indexes are the composite ones in Meta."""

    entry = models.ForeignKey(
        JournalEntry,
        on_delete=models.PROTECT,
        related_name="lines",
        db_constraint=False,
        db_index=False,
    )
    line_no = models.PositiveSmallIntegerField()
    mandate = models.ForeignKey(
        Mandate, on_delete=models.PROTECT, related_name="+", db_constraint=False, db_index=False
    )
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="lines", db_constraint=False, db_index=False
    )
    currency = models.CharField(max_length=3)
    side = models.CharField(max_length=1, choices=[("D", "Debit"), ("C", "Credit")])
    amount = MoneyField()
    base_amount = MoneyField()
    fx_rate = RateField()
    instrument = models.ForeignKey(
        Instrument,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # most lines name none: a partial index in Meta
    )

    class Meta:
        ordering = ["entry_id", "line_no"]
        indexes = [
            models.Index(fields=["mandate", "account", "currency"], name="ledger_line_account"),
            models.Index(
                fields=["instrument"],
                condition=Q(instrument__isnull=False),
                name="ledger_line_instrument",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["entry", "line_no"], name="ledger_line_unique_no"),
            models.CheckConstraint(condition=Q(side__in=["D", "C"]), name="ledger_line_side"),
            models.CheckConstraint(
                condition=Q(amount__gte=0) & Q(base_amount__gte=0),
                name="ledger_line_amounts_positive",
            ),
            models.CheckConstraint(
                condition=Q(amount__gt=0) | Q(base_amount__gt=0), name="ledger_line_moves"
            ),
            models.CheckConstraint(condition=Q(fx_rate__gt=0), name="ledger_line_rate_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.entry_id}/{self.line_no} {self.side} {self.account_id} {self.amount}"

    @property
    def signed(self):  # type: ignore[no-untyped-def]
        return self.amount if self.side == "D" else -self.amount


class Basis(models.TextChoices):
    TRADE = "trade", "Trade date"
    SETTLEMENT = "settlement", "Settlement date"


class LedgerBalance(models.Model):
    """What one day's postings moved on one account of a mandate, in one currency, on one
    basis: kept in the posting's transaction, so a trial balance sums days, not lines."""

    # Indexed by the unique constraint, which leads with them: no single-column indexes
    # (every posting updates these rows; each index is one more write).
    mandate = models.ForeignKey(Mandate, on_delete=models.PROTECT, related_name="+", db_index=False)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+", db_index=False)
    currency = models.CharField(max_length=3)
    basis = models.CharField(max_length=10, choices=Basis.choices)
    day = models.DateField()
    debit = MoneyField(default=0)
    credit = MoneyField(default=0)
    base_debit = MoneyField(default=0)
    base_credit = MoneyField(default=0)

    class Meta:
        ordering = ["mandate", "account", "currency", "basis", "day"]
        constraints = [
            models.UniqueConstraint(
                fields=["mandate", "account", "currency", "basis", "day"],
                name="ledger_balance_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.mandate_id} {self.account_id} {self.currency} {self.basis} {self.day}"


class InstrumentBalance(models.Model):
    """A sub-ledger account's balance for one instrument now (1100, 1150, 1400)."""

    # As on LedgerBalance: the unique constraint indexes mandate and account.
    mandate = models.ForeignKey(Mandate, on_delete=models.PROTECT, related_name="+", db_index=False)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+", db_index=False)
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="+")
    currency = models.CharField(max_length=3)
    amount = MoneyField(default=0, help_text="Signed: debit positive")
    base_amount = MoneyField(default=0)

    class Meta:
        ordering = ["mandate", "account", "instrument"]
        constraints = [
            models.UniqueConstraint(
                fields=["mandate", "account", "instrument", "currency"],
                name="ledger_instrument_balance_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.mandate_id} {self.account_id} {self.instrument_id} {self.amount}"


class PeriodClose(_AppendOnly):
    """A closed period: nothing may be posted for this mandate (or every mandate, when
    blank) dated on or before `through`."""

    mandate = models.ForeignKey(
        Mandate, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    through = models.DateField()
    closed_at = models.DateTimeField()
    closed_by = models.CharField(max_length=150)
    note = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = ["-through"]

    def __str__(self) -> str:
        return f"closed through {self.through} ({self.mandate_id or 'all'})"


class LedgerState(models.Model):
    """The single row that orders postings: the chain's head, and what has been read."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="0" * 64)
    event_cursor = models.BigIntegerField(default=0, help_text="Last book event read")
    cash_cursor = models.BigIntegerField(default=0, help_text="Last cash movement id seen")
    marked_through = models.DateField(null=True, blank=True, help_text="Last day-end posted")

    def __str__(self) -> str:
        return f"ledger head {self.last_seq}"


def chart_rows() -> list[Account]:
    return [
        Account(
            code=a.code,
            name=a.name,
            type=a.type,
            normal_side=a.normal_side,
            by_instrument=a.by_instrument,
        )
        for a in accounts.CHART
    ]
