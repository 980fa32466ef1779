"""Query filters of the alert queue and the rules, shared by GET /api/dataquality/alerts,
GET /api/dataquality/rules and the Data quality pages. A bad value (an unknown status,
severity, rule code, source, ticker, mandate code or user) is a 400 naming the
parameter, never an empty list that reads as "nothing there".

The alert filter only validates: `dataquality.selectors.alert_list` applies it, so the
API, the pages and the selector answer the same question the same way.
"""

from __future__ import annotations

import django_filters
from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from book.filters import by_code
from book.models import AssetClass, Instrument, Mandate

from . import queries, selectors
from .models import Alert, AlertStatus, DQRule, Severity

YES_NO = [("true", "yes"), ("false", "no")]


def _rule_choices() -> list[tuple[str, str]]:
    return [(code, code) for code in queries.RULE_CODES]


def _source_choices() -> list[tuple[str, str]]:
    return [(source, source) for source in queries.alert_sources()]


class AlertFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=AlertStatus.choices)
    active = django_filters.ChoiceFilter(
        choices=YES_NO,
        label="Active (true: open, acknowledged or snoozed; false: resolved)",
    )
    severity = django_filters.ChoiceFilter(choices=Severity.choices)
    rule = django_filters.ChoiceFilter(choices=_rule_choices, label="Rule (check) code")
    source = django_filters.ChoiceFilter(
        choices=_source_choices, label="Source at fault (primary, secondary, custodian...)"
    )
    instrument = by_code(Instrument.objects.all(), "ticker", "instrument")
    mandate = django_filters.ModelChoiceFilter(
        queryset=Mandate.objects.all(),
        to_field_name="code",
        label="Mandate code: the alerts touching its NAV inputs",
        error_messages={"invalid_choice": "unknown mandate %(value)s"},
    )
    assignee = django_filters.ModelChoiceFilter(
        queryset=get_user_model().objects.all(),
        to_field_name="username",
        label="Assigned to (username)",
        error_messages={"invalid_choice": "unknown user %(value)s"},
    )

    class Meta:
        model = Alert
        fields: list[str] = []

    def filter_queryset(self, queryset: QuerySet) -> QuerySet[Alert]:
        data = self.form.cleaned_data
        active = data.get("active")
        return selectors.alert_list(
            status=data.get("status") or None,
            active=None if not active else active == "true",
            severity=data.get("severity") or None,
            rule=data.get("rule") or None,
            source=data.get("source") or None,
            instrument=data["instrument"].ticker if data.get("instrument") else None,
            mandate=data["mandate"].code if data.get("mandate") else None,
            assignee=data["assignee"].get_username() if data.get("assignee") else None,
        )


class RuleFilter(django_filters.FilterSet):
    code = django_filters.ChoiceFilter(choices=_rule_choices, label="Rule (check) code")
    asset_class = django_filters.ChoiceFilter(
        choices=[("all", "All classes (the generic rule)"), *AssetClass.choices],
        method="filter_asset_class",
        label="Asset class (all: the generic rules)",
    )
    enabled = django_filters.ChoiceFilter(choices=YES_NO, method="filter_enabled")

    class Meta:
        model = DQRule
        fields: list[str] = []

    def filter_asset_class(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(asset_class="" if value == "all" else value)

    def filter_enabled(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(enabled=value == "true")
