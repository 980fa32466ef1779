"""Data quality in the Django admin: the rules are configuration and edited here (admin
role) - every save goes through `services.rule_update`, so it is validated against the
check engine, bumps the rule's version and is written to the event log. Check runs,
alerts and their history are records, shown read-only: an alert is worked through
`dataquality.services` (the Data quality pages, the API, or the actions below), so every
change carries who and when into its history and the event log."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html

from book.admin import ReadOnlyAdmin, ReadOnlyInline

from . import queries, services
from .checks import Rule
from .models import Alert, AlertAction, AlertInput, CheckResult, CheckRun, DQRule

# --- rules -------------------------------------------------------------------------------


class DQRuleForm(forms.ModelForm):
    """Severity, params and enabled; checked the way the service checks them (against
    the engine's Rule) so a bad value is shown on its field, not lost in a message."""

    class Meta:
        model = DQRule
        fields = ["severity", "params", "enabled"]

    def clean_params(self) -> dict[str, Any]:
        params = self.cleaned_data.get("params")
        if not isinstance(params, dict):
            raise ValidationError('a JSON object of param names to values, e.g. {"k": 8}')
        return params

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        row = self.instance
        problems = queries.params_errors(row.code, data.get("params") or {})
        if problems:
            raise ValidationError({"params": problems})
        try:
            Rule(
                code=row.code,
                version=row.version + 1,
                asset_class=row.asset_class,
                severity=data.get("severity") or row.severity,
                params=data.get("params") or {},
                enabled=data.get("enabled", row.enabled),
            )
        except (TypeError, ValueError) as exc:
            raise ValidationError({"params": [str(exc)]}) from exc
        return data


@admin.register(DQRule)
class DQRuleAdmin(admin.ModelAdmin):
    form = DQRuleForm
    list_display = [
        "code",
        "asset_class_shown",
        "version",
        "severity",
        "enabled",
        "params",
        "updated_at",
        "updated_by",
    ]
    list_filter = ["severity", "enabled", "asset_class"]
    search_fields = ["code"]
    ordering = ["code", "asset_class"]
    readonly_fields = ["code", "asset_class", "version", "description", "updated_at", "updated_by"]
    fields = [
        "code",
        "asset_class",
        "version",
        "severity",
        "params",
        "enabled",
        "description",
        "updated_at",
        "updated_by",
    ]

    @admin.display(description="Asset class", ordering="asset_class")
    def asset_class_shown(self, rule: DQRule) -> str:
        return rule.get_asset_class_display()

    # The rows are the engine's rules (stored by services.rules_ensure): a rule is changed,
    # never added or deleted by hand (an unknown code would be a check nobody runs).
    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def save_model(self, request: Any, obj: DQRule, form: Any, change: bool) -> None:
        if not form.changed_data:
            return
        saved = DQRule.objects.get(pk=obj.pk)
        # The form holds the whole params object; the service lays what it is given over
        # the stored params, so give it exactly the form's (a removed key stays: say so).
        removed = sorted(set(saved.params) - set(form.cleaned_data["params"]))
        updated = services.rule_update(
            saved,
            severity=form.cleaned_data["severity"],
            params=form.cleaned_data["params"],
            enabled=form.cleaned_data["enabled"],
            actor=request.user,
        )
        obj.version = updated.version
        obj.params = updated.params
        obj.updated_at = updated.updated_at
        obj.updated_by = updated.updated_by
        if removed:
            self.message_user(
                request,
                f"Params are merged: {', '.join(removed)} kept their stored values.",
                messages.WARNING,
            )


# --- runs --------------------------------------------------------------------------------


def _page_link(url_name: str, value: Any, label: str) -> str:
    return format_html(
        '<a href="{}">{} on the Data quality pages</a>', reverse(url_name, args=[value]), label
    )


class CheckResultInline(ReadOnlyInline):
    model = CheckResult
    fields = ["rule", "source", "evaluated", "failed"]
    readonly_fields = fields
    ordering = ["rule", "source"]


@admin.register(CheckRun)
class CheckRunAdmin(ReadOnlyAdmin):
    list_display = [
        "tick",
        "sim_time",
        "duration_ms",
        "instruments",
        "findings",
        "opened",
        "resolved",
        "started_at",
    ]
    search_fields = ["=tick"]
    date_hierarchy = "sim_time"
    inlines = [CheckResultInline]
    readonly_fields = ["page_link"]
    show_full_result_count = False

    @admin.display(description="Page")
    def page_link(self, run: CheckRun) -> str:
        return _page_link("dq-run", run.tick, f"Run at tick {run.tick}")


# --- alerts ------------------------------------------------------------------------------


class AlertActionInline(ReadOnlyInline):
    model = AlertAction
    fields = ["at", "kind", "actor", "tick", "note"]
    readonly_fields = fields
    ordering = ["id"]


class AlertInputInline(ReadOnlyInline):
    model = AlertInput
    fields = ["key"]
    readonly_fields = fields
    ordering = ["key"]


def _workflow(name: str, label: str, done: str, **kwargs: Any) -> Any:
    """An admin action that calls the service on the selected alerts."""

    def run(modeladmin: admin.ModelAdmin, request: Any, queryset: Any) -> None:
        ids = list(queryset.values_list("alert_id", flat=True))
        params = {k: (request.user if v == "me" else v) for k, v in kwargs.items()}
        try:
            rows = services.BULK_ACTIONS[name](ids, actor=request.user, **params)
        except ValidationError as exc:
            modeladmin.message_user(request, "; ".join(exc.messages), messages.ERROR)
            return
        modeladmin.message_user(request, f"{len(rows)} alert(s) {done}.", messages.SUCCESS)

    run.__name__ = f"alerts_{name}"
    run.short_description = label  # type: ignore[attr-defined]
    return run


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = [
        "alert_id",
        "severity",
        "status",
        "rule",
        "rule_version",
        "entity_kind",
        "entity_key",
        "source",
        "instrument",
        "mandate",
        "first_seen_tick",
        "last_seen_tick",
        "times_seen",
        "assignee",
    ]
    list_filter = ["status", "severity", "rule", "source", "entity_kind"]
    search_fields = ["=alert_id", "=entity_key", "instrument__ticker", "mandate__code", "message"]
    list_select_related = ["instrument", "mandate", "assignee"]
    inlines = [AlertInputInline, AlertActionInline]
    readonly_fields = ["page_link"]
    show_full_result_count = False
    actions = [
        _workflow("acknowledge", "Acknowledge the selected alerts", "acknowledged"),
        _workflow("assign", "Assign the selected alerts to me", "assigned to you", assignee="me"),
        _workflow("resolve", "Resolve the selected alerts", "resolved"),
    ]

    @admin.display(description="Page")
    def page_link(self, alert: Alert) -> str:
        return _page_link("dq-alert", alert.alert_id, alert.alert_id)

    def get_actions(self, request: Any) -> dict[str, Any]:
        # The workflow actions change alerts: operators and admins (viewers see none).
        from opssuite import roles

        actions = super().get_actions(request)
        if not roles.user_has_role(request.user, roles.OPERATOR):
            return {}
        return actions
