"""Data quality's records: the rules (editable in the admin, versioned), every check run
with its per-rule results (passes included, so trends can be queried), the deduplicated
alerts with the inputs they touch, and the history of every action on an alert.

An alert is one condition (`dedup_key` = rule, entity, source) for as long as it lasts: a
condition that persists refreshes its alert (last seen tick, latest values), it does not
open one per tick; when a run no longer finds it, the alert resolves itself. Found again
later, it is a new alert (a new episode, a new id).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from book.models import AssetClass


class Severity(models.TextChoices):
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"


class DQRule(models.Model):
    """A check's rule for one asset class ("" = every class): severity and parameters.
    Saving a change through the admin or the service bumps its version, and every alert
    names the rule version that raised it."""

    code = models.CharField(max_length=48)
    asset_class = models.CharField(
        max_length=12, blank=True, default="", choices=[("", "All"), *AssetClass.choices]
    )
    version = models.PositiveIntegerField(default=1)
    severity = models.CharField(max_length=8, choices=Severity.choices)
    params = models.JSONField(default=dict, blank=True)
    enabled = models.BooleanField(default=True)
    description = models.CharField(max_length=300, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=150, blank=True, default="")

    class Meta:
        ordering = ["code", "asset_class"]
        verbose_name = "rule"
        constraints = [
            models.UniqueConstraint(fields=["code", "asset_class"], name="dq_rule_once"),
        ]

    def __str__(self) -> str:
        return f"{self.code}{'/' + self.asset_class if self.asset_class else ''} v{self.version}"


class CheckRun(models.Model):
    """One tick's run of every check."""

    tick = models.BigIntegerField(unique=True)
    sim_time = models.DateTimeField()
    started_at = models.DateTimeField(auto_now_add=True)
    duration_ms = models.FloatField(default=0)
    instruments = models.PositiveIntegerField(default=0)
    findings = models.PositiveIntegerField(default=0)
    opened = models.PositiveIntegerField(default=0)
    resolved = models.PositiveIntegerField(default=0)
    summary = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-tick"]

    def __str__(self) -> str:
        return f"dq run @ {self.tick}"


class CheckResult(models.Model):
    """One rule's outcome in one run, per source: how many entities it evaluated and how
    many failed. Stored for passes too: the trend of a check over time."""

    run = models.ForeignKey(CheckRun, on_delete=models.CASCADE, related_name="results")
    tick = models.BigIntegerField(db_index=True)
    rule = models.CharField(max_length=48)
    source = models.CharField(max_length=24, blank=True, default="")
    evaluated = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["tick", "rule", "source"]
        indexes = [models.Index(fields=["rule", "tick"], name="dq_result_trend")]

    def __str__(self) -> str:
        return f"{self.rule}/{self.source} @ {self.tick}: {self.failed}/{self.evaluated}"


class AlertStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    SNOOZED = "snoozed", "Snoozed"
    RESOLVED = "resolved", "Resolved"


ACTIVE_STATUSES = (AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED, AlertStatus.SNOOZED)


class Alert(models.Model):
    alert_id = models.CharField(max_length=16, unique=True)
    dedup_key = models.CharField(max_length=200, db_index=True)
    rule = models.CharField(max_length=48, db_index=True)
    rule_version = models.PositiveIntegerField()
    severity = models.CharField(max_length=8, choices=Severity.choices, db_index=True)
    entity_kind = models.CharField(max_length=16)
    entity_key = models.CharField(max_length=64)
    source = models.CharField(max_length=24, blank=True, default="")
    asset_class = models.CharField(max_length=12, blank=True, default="")
    instrument = models.ForeignKey(
        "book.Instrument", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    mandate = models.ForeignKey(
        "book.Mandate", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    value = models.FloatField(null=True, blank=True)
    value_source = models.CharField(max_length=24, blank=True, default="")
    reference = models.FloatField(null=True, blank=True)
    reference_source = models.CharField(max_length=24, blank=True, default="")
    tolerance = models.FloatField(null=True, blank=True)
    measured = models.FloatField(null=True, blank=True)
    unit = models.CharField(max_length=16, blank=True, default="")
    message = models.CharField(max_length=300)
    detail = models.JSONField(default=dict, blank=True)
    inputs = models.JSONField(default=list, blank=True)
    status = models.CharField(
        max_length=12, choices=AlertStatus.choices, default=AlertStatus.OPEN, db_index=True
    )
    first_seen_tick = models.BigIntegerField()
    last_seen_tick = models.BigIntegerField()
    times_seen = models.PositiveIntegerField(default=1)
    # The window of data the condition covers (sim time), and when it was raised.
    window_start = models.DateTimeField()
    window_end = models.DateTimeField(
        null=True, blank=True, help_text="Empty while the condition lasts"
    )
    raised_sim_time = models.DateTimeField(db_index=True)
    raised_at = models.DateTimeField(auto_now_add=True, help_text="Wall time")
    resolved_tick = models.BigIntegerField(null=True, blank=True)
    resolved_sim_time = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=200, blank=True, default="")
    snoozed_until_tick = models.BigIntegerField(null=True, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="dq_alerts",
    )

    class Meta:
        ordering = ["-id"]
        constraints = [
            # One active alert per condition: the deduplication, held by the database.
            models.UniqueConstraint(
                fields=["dedup_key"],
                condition=Q(status__in=["open", "acknowledged", "snoozed"]),
                name="dq_alert_one_active_per_condition",
            ),
        ]
        indexes = [models.Index(fields=["status", "severity"], name="dq_alert_queue")]

    def __str__(self) -> str:
        return self.alert_id


class AlertInput(models.Model):
    """One input an alert touches ("price:123:primary", "fx:EURUSD", "custodian:ACC"):
    what the NAV gate and the late-alert selector join on."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="input_rows")
    key = models.CharField(max_length=64)

    class Meta:
        indexes = [models.Index(fields=["key", "alert"], name="dq_input_key")]
        constraints = [
            models.UniqueConstraint(fields=["alert", "key"], name="dq_input_once"),
        ]

    def __str__(self) -> str:
        return f"{self.alert_id} {self.key}"


class AlertAction(models.Model):
    class Kind(models.TextChoices):
        RAISED = "raised", "Raised"
        AUTO_RESOLVED = "auto_resolved", "Condition cleared"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        SNOOZED = "snoozed", "Snoozed"
        ASSIGNED = "assigned", "Assigned"
        COMMENTED = "commented", "Commented"
        RESOLVED = "resolved", "Resolved"

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="actions")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    actor = models.CharField(max_length=150, default="system")
    at = models.DateTimeField(auto_now_add=True)
    tick = models.BigIntegerField(null=True, blank=True)
    note = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.alert_id} {self.kind} by {self.actor}"
