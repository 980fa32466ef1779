"""Reconciliation's records: the tolerances and rules (editable in the admin), every run,
the one break queue both recons feed, and the history of every action on a break.

A break has a stable identity (`Break.identity`): the same difference found by the next run
is the same break, one run later and older; a break that is not found again by a run that
covered it is resolved by that run ("cleared at statement S-000123"); found again after
that, it is reopened, not duplicated.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from book.models import AssetClass, CustodyAccount, Instrument, Mandate
from book.models.fields import MoneyField, QuantityField


class ReconKind(models.TextChoices):
    POSITION = "position", "Position (book vs custodian)"
    TRADE = "trade", "Trade (executions vs confirmations vs P&L)"


class BreakType(models.TextChoices):
    # Position recon
    POSITION_QUANTITY = "position_quantity", "Position quantity"
    POSITION_VALUE = "position_value", "Position market value"
    CASH_BALANCE = "cash_balance", "Cash balance"
    # Trade recon (the names the breaks.csv file uses)
    QUANTITY_MISMATCH = "quantity_mismatch", "Quantity mismatch"
    PRICE_MISMATCH = "price_mismatch", "Price mismatch"
    TIMESTAMP_DRIFT = "timestamp_drift", "Timestamp drift"
    PNL_INCONSISTENT = "pnl_inconsistent", "P&L inconsistent"
    MISSING_CONFIRMATION = "missing_confirmation", "Missing confirmation"
    UNEXPECTED_CONFIRMATION = "unexpected_confirmation", "Unexpected confirmation"
    DUPLICATE_CONFIRMATION = "duplicate_confirmation", "Duplicate confirmation"
    INSTRUMENT_MISMATCH = "instrument_mismatch", "Instrument mismatch"
    SIDE_MISMATCH = "side_mismatch", "Side mismatch"


POSITION_BREAK_TYPES = (
    BreakType.POSITION_QUANTITY,
    BreakType.POSITION_VALUE,
    BreakType.CASH_BALANCE,
)


class Classification(models.TextChoices):
    """Why a position break is there, as far as the data explains it."""

    TIMING = "timing", "Timing (settlement pending or late)"
    MISSING_TRADE = "missing_trade", "Missing trade"
    QUANTITY_ERROR = "quantity_error", "Quantity error"
    CORPORATE_ACTION = "corporate_action", "Corporate action"
    PRICE = "price", "Price (market value only)"
    UNKNOWN = "unknown", "Unknown"
    TRADE = "trade", "Trade recon break"


class BreakStatus(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"


class ReasonCode(models.TextChoices):
    TIMING = "timing", "Timing: settles / arrives later"
    BOOKING_ERROR = "booking_error", "Booking error (our side)"
    BROKER_ERROR = "broker_error", "Broker error"
    CUSTODIAN_ERROR = "custodian_error", "Custodian error"
    CORPORATE_ACTION = "corporate_action", "Corporate action not processed"
    FAILED_SETTLEMENT = "failed_settlement", "Failed settlement"
    DUPLICATE = "duplicate", "Duplicate"
    PRICE_SOURCE = "price_source", "Price source difference"
    WRITE_OFF = "write_off", "Accepted / written off"
    OTHER = "other", "Other"


AGE_BUCKETS = ("0-1", "2-3", "4-5", "6-10", ">10")


def age_bucket(age: int) -> str:
    if age <= 1:
        return "0-1"
    if age <= 3:
        return "2-3"
    if age <= 5:
        return "4-5"
    if age <= 10:
        return "6-10"
    return ">10"


class Tolerance(models.Model):
    """What counts as a difference, per asset class (and `cash` for cash balances)."""

    asset_class = models.CharField(
        max_length=12,
        unique=True,
        choices=AssetClass.choices,
        help_text="The `cash` row holds the cash tolerance",
    )
    quantity_abs = QuantityField(default=0, help_text="Absolute quantity difference allowed")
    quantity_rel_pct = models.DecimalField(
        max_digits=9, decimal_places=6, default=0, help_text="Relative difference allowed, %"
    )
    market_value_abs = MoneyField(default=0, help_text="Market value difference allowed")
    cash_abs = MoneyField(default=0, help_text="Cash difference allowed (the cash row)")

    class Meta:
        ordering = ["asset_class"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity_abs__gte=0)
                & models.Q(quantity_rel_pct__gte=0)
                & models.Q(market_value_abs__gte=0)
                & models.Q(cash_abs__gte=0),
                name="recon_tolerance_nonnegative",
            ),
        ]

    def __str__(self) -> str:
        return f"tolerance {self.asset_class}"


class ReconSettings(models.Model):
    """The recon's rules (one row, `name="default"`), editable in the admin."""

    name = models.CharField(max_length=16, unique=True, default="default")
    price_tolerance = models.DecimalField(max_digits=12, decimal_places=6, default="0.005")
    time_tolerance_ms = models.PositiveIntegerField(default=100)
    pnl_tolerance = models.DecimalField(max_digits=12, decimal_places=4, default="1.0")
    check_side = models.BooleanField(default=True)
    check_instrument = models.BooleanField(default=True)
    check_pnl = models.BooleanField(default=True)
    confirmation_grace_ticks = models.PositiveSmallIntegerField(
        default=2,
        help_text="Ticks after the broker's usual lag before an execution with no "
        "confirmation is a missing_confirmation break",
    )
    escalate_after_days = models.PositiveSmallIntegerField(
        default=5, help_text="Business days open before a break is escalated"
    )

    class Meta:
        verbose_name_plural = "recon settings"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(price_tolerance__gte=0) & models.Q(pnl_tolerance__gte=0),
                name="recon_settings_nonnegative",
            ),
        ]

    def __str__(self) -> str:
        return f"recon settings {self.name}"


class RunStatus(models.TextChoices):
    COMPLETED = "completed", "Completed"
    STALE = "stale", "Stale statement (a newer one was already reconciled)"


class RunSource(models.TextChoices):
    SIMULATOR = "simulator", "Simulator feeds"
    FILE = "file", "File import"


class ReconRun(models.Model):
    """One run of a recon: a custodian statement reconciled, a tick's confirmations matched,
    or files uploaded."""

    run_id = models.CharField(max_length=16, unique=True)
    kind = models.CharField(max_length=8, choices=ReconKind.choices, db_index=True)
    source = models.CharField(max_length=10, choices=RunSource.choices)
    status = models.CharField(max_length=10, choices=RunStatus.choices)
    mandate = models.ForeignKey(
        Mandate, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    custody_account = models.ForeignKey(
        CustodyAccount, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    statement = models.ForeignKey(
        "book.CustodianStatement",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="recon_runs",
    )
    as_of = models.DateTimeField(null=True, blank=True, help_text="Sim time compared as of")
    tick = models.BigIntegerField(null=True, blank=True, db_index=True)
    sim_time = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    duration_ms = models.FloatField(default=0)
    actor = models.CharField(max_length=150, default="system")
    files = models.JSONField(default=dict, blank=True, help_text="File runs: the file names")
    rules = models.JSONField(default=dict, blank=True, help_text="The tolerances applied")
    summary = models.JSONField(default=dict, blank=True)
    rejects = models.JSONField(default=list, blank=True, help_text="[file, line, reason]")

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.run_id


class Break(models.Model):
    """One difference, open until a run no longer finds it or an operator resolves it."""

    break_id = models.CharField(max_length=16, unique=True)
    identity = models.CharField(
        max_length=200, unique=True, help_text="Stable: the same difference is the same break"
    )
    recon = models.CharField(max_length=8, choices=ReconKind.choices, db_index=True)
    source = models.CharField(max_length=10, choices=RunSource.choices)
    break_type = models.CharField(max_length=24, choices=BreakType.choices, db_index=True)
    classification = models.CharField(max_length=16, choices=Classification.choices)
    explanation = models.CharField(max_length=300, blank=True, default="")
    status = models.CharField(
        max_length=10, choices=BreakStatus.choices, default=BreakStatus.OPEN, db_index=True
    )
    mandate = models.ForeignKey(
        Mandate, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    custody_account = models.ForeignKey(
        CustodyAccount, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    instrument = models.ForeignKey(
        Instrument, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reported_id = models.CharField(max_length=32, blank=True, default="")
    currency = models.CharField(max_length=3, blank=True, default="")
    trade_id = models.CharField(max_length=32, blank=True, default="", db_index=True)
    match_key = models.CharField(
        max_length=32, blank=True, default="", help_text="Trade recon: trade, order or fill id"
    )
    trade_ids = models.JSONField(default=list, blank=True, help_text="Every trade it touches")
    field = models.CharField(max_length=32, blank=True, default="")
    internal_value = models.CharField(max_length=64, blank=True, default="")
    external_value = models.CharField(max_length=64, blank=True, default="")
    difference = models.CharField(max_length=64, blank=True, default="")
    detail = models.JSONField(default=dict, blank=True, help_text="Both sides, in full")
    candidates = models.JSONField(default=list, blank=True, help_text="What may explain it")
    first_run = models.ForeignKey(ReconRun, on_delete=models.PROTECT, related_name="+")
    last_run = models.ForeignKey(ReconRun, on_delete=models.PROTECT, related_name="+")
    first_seen_date = models.DateField(help_text="Sim date it was first found")
    last_seen_date = models.DateField()
    first_seen_tick = models.BigIntegerField(null=True, blank=True)
    last_seen_tick = models.BigIntegerField(null=True, blank=True)
    times_seen = models.PositiveIntegerField(default=1)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="recon_breaks",
    )
    reason_code = models.CharField(max_length=20, choices=ReasonCode.choices, blank=True)
    escalated = models.BooleanField(default=False, db_index=True)
    resolved_date = models.DateField(null=True, blank=True)
    resolution = models.CharField(max_length=200, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["status", "recon"], name="recon_break_queue"),
            models.Index(fields=["custody_account", "status"], name="recon_break_account"),
            models.Index(fields=["match_key"], name="recon_break_key"),
        ]

    def __str__(self) -> str:
        return self.break_id


class BreakAction(models.Model):
    """Everything that happened to a break, by whom and when (also in the event log)."""

    class Kind(models.TextChoices):
        OPENED = "opened", "Opened"
        AUTO_RESOLVED = "auto_resolved", "Cleared by a run"
        REOPENED = "reopened", "Reopened"
        ASSIGNED = "assigned", "Assigned"
        COMMENTED = "commented", "Commented"
        REASON = "reason", "Reason code set"
        RESOLVED = "resolved", "Resolved"
        ESCALATED = "escalated", "Escalated"

    brk = models.ForeignKey(Break, on_delete=models.CASCADE, related_name="actions")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    actor = models.CharField(max_length=150, default="system")
    at = models.DateTimeField(auto_now_add=True)
    sim_time = models.DateTimeField(null=True, blank=True)
    run = models.ForeignKey(
        ReconRun, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    note = models.TextField(blank=True, default="")
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.brk_id} {self.kind} by {self.actor}"


class RunFinding(models.Model):
    """A break a run found (opened, saw again or reopened), with the values as that run
    found them: what the run's report and its breaks.csv list, however the break is
    refreshed by later runs."""

    run = models.ForeignKey(ReconRun, on_delete=models.CASCADE, related_name="findings")
    brk = models.ForeignKey(Break, on_delete=models.CASCADE, related_name="findings")
    key = models.CharField(max_length=64, default="", help_text="Trade id / match key")
    break_type = models.CharField(max_length=24, default="")
    field = models.CharField(max_length=32, blank=True, default="")
    internal_value = models.CharField(max_length=64, blank=True, default="")
    external_value = models.CharField(max_length=64, blank=True, default="")
    difference = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "brk"], name="recon_finding_once"),
        ]

    def __str__(self) -> str:
        return f"{self.run_id} found {self.brk_id}"
