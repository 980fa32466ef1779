"""Data quality's alerts at the service level, over the demo universe with findings built
by hand: one alert per condition for as long as it lasts, cleared when the condition
goes, a new alert when it comes back; the database refuses two active alerts for one
condition; the workflow (snooze, acknowledge, assign, comment, resolve) is recorded on
the alert and in the event log; the NAV gate blocks only on a mandate's own inputs and
only for critical alerts; the late-alert selector finds exactly the alerts raised after a
time whose window covers the NAV time; a rule change is a new version that new alerts
name."""

from __future__ import annotations

import numpy as np
import pytest
from django.db import IntegrityError, transaction

from book.models import Event
from dataquality import events, selectors, services
from dataquality.checks import MarketFrame, run_checks
from dataquality.models import ACTIVE_STATUSES, Alert, AlertAction, AlertStatus, DQRule
from dataquality.tests.alert_data import Ref, apply, at, finding, universe_load
from simulator.models import Clock

pytestmark = pytest.mark.django_db


@pytest.fixture
def universe(db) -> Ref:  # noqa: ANN001
    return universe_load()


def alert_of(f) -> Alert:  # noqa: ANN001
    """The active alert of a finding's condition."""
    return Alert.objects.get(dedup_key="|".join(f.dedup_key), status__in=ACTIVE_STATUSES)


def kinds(alert: Alert) -> list[str]:
    return list(alert.actions.order_by("id").values_list("kind", flat=True))


def dq_events(kind: str, alert_id: str) -> list[Event]:
    return [e for e in Event.objects.filter(kind=kind) if e.payload.get("alert_id") == alert_id]


def clock_at(tick: int) -> None:
    """The simulator clock as if `tick` had just run (the workflow stamps its tick)."""
    Clock.objects.filter(pk=1).update(last_tick=tick, last_tick_sim_time=at(tick))


# --- deduplication -----------------------------------------------------------------------


def test_a_persisting_condition_refreshes_one_alert_instead_of_raising_one_a_tick(universe):
    # GIVEN a vendor disagreement on an instrument, found at tick 1
    f = finding(universe.held, measured=149.3)
    assert apply(1, [f]) == {"raised": 1, "refreshed": 0, "resolved": 0, "woken": 0}
    # WHEN the next three runs find it again (wider each time)
    for tick, measured in [(2, 160.0), (3, 171.0), (4, 180.5)]:
        applied = apply(tick, [finding(universe.held, measured=measured)])
        assert applied["raised"] == 0 and applied["refreshed"] == 1
    # THEN it is still one alert, seen four times, first at 1 and last at 4, latest values
    assert Alert.objects.count() == 1
    alert = Alert.objects.get()
    assert (alert.first_seen_tick, alert.last_seen_tick, alert.times_seen) == (1, 4, 4)
    assert alert.measured == 180.5 and alert.status == AlertStatus.OPEN
    assert alert.window_start == at(1) and alert.window_end is None
    assert alert.instrument_id == universe.held.pk
    assert sorted(alert.input_rows.values_list("key", flat=True)) == sorted(f.inputs)
    # ...and raised once: one action, one event
    assert kinds(alert) == ["raised"]
    assert len(dq_events(events.ALERT_RAISED, alert.alert_id)) == 1


def test_an_escalating_condition_raises_the_severity_of_its_alert(universe):
    apply(1, [finding(universe.held, severity="warning", measured=40.0)])
    apply(2, [finding(universe.held, severity="critical", measured=120.0)])
    alert = Alert.objects.get()
    assert alert.severity == "critical" and alert.times_seen == 2


def test_an_alert_clears_itself_when_the_condition_goes_and_a_recurrence_is_a_new_alert(
    universe,
):
    f = finding(universe.held)
    apply(1, [f])
    apply(2, [f])
    first = alert_of(f)
    # WHEN the run at tick 3 no longer finds it
    assert apply(3, [])["resolved"] == 1
    # THEN the alert is resolved, its window closed at tick 3's time, with an action and
    # an event saying the condition cleared
    first.refresh_from_db()
    assert first.status == AlertStatus.RESOLVED
    assert (first.resolved_tick, first.window_end, first.resolved_sim_time) == (3, at(3), at(3))
    assert "condition cleared" in first.resolution
    assert kinds(first) == ["raised", "auto_resolved"]
    cleared = dq_events(events.ALERT_RESOLVED, first.alert_id)
    assert len(cleared) == 1 and cleared[0].payload["how"] == "condition cleared"
    # WHEN the same condition comes back at tick 5
    apply(5, [f])
    # THEN it is a new alert (a new episode, a new id), the old one stays resolved
    second = alert_of(f)
    assert second.alert_id != first.alert_id
    assert (second.first_seen_tick, second.times_seen, second.window_start) == (5, 1, at(5))
    assert Alert.objects.filter(dedup_key=first.dedup_key).count() == 2


def test_the_database_refuses_two_active_alerts_for_one_condition(universe):
    f = finding(universe.held)
    apply(1, [f])
    existing = alert_of(f)
    duplicate = dict(
        dedup_key=existing.dedup_key,
        rule=existing.rule,
        rule_version=1,
        severity="critical",
        entity_kind="instrument",
        entity_key=existing.entity_key,
        message="the same condition again",
        first_seen_tick=2,
        last_seen_tick=2,
        window_start=at(2),
        raised_sim_time=at(2),
    )
    # An active duplicate (open, acknowledged or snoozed) is refused by the partial index...
    for status in ("open", "acknowledged", "snoozed"):
        with pytest.raises(IntegrityError), transaction.atomic():
            Alert.objects.create(alert_id=f"A-DUP-{status[:4]}", status=status, **duplicate)
    # ...a resolved one for the same condition is history, and allowed.
    Alert.objects.create(alert_id="A-OLD", status="resolved", **duplicate)
    assert Alert.objects.filter(dedup_key=existing.dedup_key).count() == 2


def test_each_rule_and_source_on_one_instrument_is_its_own_alert(universe):
    # Both vendors at fault on one instrument: two conditions, two alerts.
    apply(1, [finding(universe.held, source="primary"), finding(universe.held, source="secondary")])
    assert Alert.objects.filter(status="open").count() == 2
    # Next run: only a stale price on it - a third condition; the other two cleared.
    apply(2, [finding(universe.held, rule="price.stale", severity="warning")])
    assert list(Alert.objects.filter(status="open").values_list("rule", flat=True)) == [
        "price.stale"
    ]
    assert Alert.objects.count() == 3


# --- the workflow ------------------------------------------------------------------------


def test_a_snoozed_alert_stays_quiet_until_its_tick_then_reopens_if_the_condition_lasts(
    universe, operator
):
    f = finding(universe.held)
    apply(10, [f])
    clock_at(10)
    alert = alert_of(f)
    # WHEN an operator snoozes it for 3 ticks
    services.alert_snooze([alert.alert_id], ticks=3, actor=operator, note="vendor re-sends at 4pm")
    alert.refresh_from_db()
    assert (alert.status, alert.snoozed_until_tick) == (AlertStatus.SNOOZED, 13)
    # THEN the runs before tick 13 refresh it and leave it snoozed
    for tick in (11, 12):
        assert apply(tick, [f])["woken"] == 0
        alert.refresh_from_db()
        assert alert.status == AlertStatus.SNOOZED and alert.last_seen_tick == tick
    # ...and at tick 13, the condition still there, it is open again
    assert apply(13, [f])["woken"] == 1
    alert.refresh_from_db()
    assert (alert.status, alert.snoozed_until_tick, alert.times_seen) == (AlertStatus.OPEN, None, 4)
    assert kinds(alert) == ["raised", "snoozed"]
    snoozed = dq_events(events.ALERT_SNOOZED, alert.alert_id)
    assert snoozed[0].payload["until_tick"] == 13 and snoozed[0].actor == operator.username


def test_a_snoozed_alert_whose_condition_clears_resolves_itself(universe, operator):
    f = finding(universe.held)
    apply(10, [f])
    clock_at(10)
    services.alert_snooze([alert_of(f).alert_id], ticks=5, actor=operator)
    apply(11, [])
    assert Alert.objects.get().status == AlertStatus.RESOLVED


def test_snoozing_takes_a_whole_number_of_ticks_within_limits(universe, operator):
    f = finding(universe.held)
    apply(1, [f])
    for bad in (0, -1, 521, 2.5, True):
        with pytest.raises(services.DQError) as refused:
            services.alert_snooze([alert_of(f).alert_id], ticks=bad, actor=operator)
        assert "ticks" in refused.value.message_dict


def test_acknowledge_assign_comment_and_resolve_are_recorded_with_who_and_when(
    universe, operator, make_user
):
    colleague = make_user("operator", username="ops-colleague")
    f, g = finding(universe.held), finding(universe.unheld)
    apply(20, [f, g])
    clock_at(20)
    ids = [alert_of(f).alert_id, alert_of(g).alert_id]
    # WHEN an operator works both alerts together
    services.alert_acknowledge(ids, actor=operator, note="looking")
    services.alert_assign(ids, assignee=colleague, actor=operator)
    services.alert_comment(ids, text="vendor confirms a bad print", actor=colleague)
    services.alert_resolve(ids[:1], actor=colleague, note="false alarm")
    # THEN each alert carries the history, with who did it and at which tick
    first = Alert.objects.get(alert_id=ids[0])
    second = Alert.objects.get(alert_id=ids[1])
    assert first.status == AlertStatus.RESOLVED and second.status == AlertStatus.ACKNOWLEDGED
    assert first.assignee == colleague == second.assignee
    assert first.resolution == "resolved by ops-colleague: false alarm"
    assert first.window_end == at(20) and first.resolved_tick == 20
    history = list(first.actions.order_by("id").values_list("kind", "actor", "tick", "note"))
    assert history == [
        ("raised", "system", 20, first.message),
        ("acknowledged", operator.username, 20, "looking"),
        ("assigned", operator.username, 20, "assigned to ops-colleague"),
        ("commented", "ops-colleague", 20, "vendor confirms a bad print"),
        ("resolved", "ops-colleague", 20, "false alarm"),
    ]
    assert kinds(second) == ["raised", "acknowledged", "assigned", "commented"]
    # ...and the event log has one event per alert and action
    for kind, n in [
        (events.ALERT_ACKNOWLEDGED, 2),
        (events.ALERT_ASSIGNED, 2),
        (events.ALERT_COMMENTED, 2),
        (events.ALERT_RESOLVED, 1),
    ]:
        found = [e for e in Event.objects.filter(kind=kind) if e.payload["alert_id"] in ids]
        assert len(found) == n, kind
    resolved = dq_events(events.ALERT_RESOLVED, ids[0])[0]
    assert resolved.actor == "ops-colleague" and resolved.payload["how"] == "operator"
    assert resolved.tick == 20


def test_a_resolved_alert_refuses_the_actions_of_an_active_one(universe, operator):
    f = finding(universe.held)
    apply(1, [f])
    alert_id = alert_of(f).alert_id
    services.alert_resolve([alert_id], actor=operator)
    for act in (services.alert_acknowledge, services.alert_resolve):
        with pytest.raises(services.DQError) as refused:
            act([alert_id], actor=operator)
        assert "already resolved" in refused.value.message_dict["alert_ids"][0]
    # A comment on a closed alert is still history worth keeping.
    services.alert_comment([alert_id], text="root cause: vendor feed restart", actor=operator)
    # ...and the condition, still there at the next run, is a new alert
    apply(2, [f])
    assert alert_of(f).alert_id != alert_id


def test_the_workflow_refuses_unknown_alerts_and_changes_nothing(universe, operator):
    f = finding(universe.held)
    apply(1, [f])
    known = alert_of(f).alert_id
    with pytest.raises(services.DQError) as refused:
        services.alert_acknowledge([known, "A-999999"], actor=operator)
    assert "A-999999" in refused.value.message_dict["alert_ids"][0]
    assert Alert.objects.get(alert_id=known).status == AlertStatus.OPEN
    assert not AlertAction.objects.filter(kind="acknowledged").exists()
    with pytest.raises(services.DQError) as empty:
        services.alert_comment([known], text="   ", actor=operator)
    assert "text" in empty.value.message_dict


# --- the NAV gate ------------------------------------------------------------------------


def test_the_gate_blocks_a_mandate_on_a_critical_alert_on_its_own_input(universe):
    geq = universe.mandate
    # GIVEN a critical alert on the price of an instrument GEQ holds
    apply(1, [finding(universe.held, severity="critical")])
    decision = selectors.nav_gate(geq, at(1))
    # THEN GEQ's NAV for that time may not publish, and the answer names the alert
    assert decision.publish is False
    assert [a.alert_id for a in decision.blocking] == [Alert.objects.get().alert_id]
    body = decision.as_dict()
    assert body["publish"] is False and body["blocking"][0]["rule"] == "price.vendor_deviation"
    assert body["inputs_checked"] > 3
    # ...nor for a later time while it lasts; a time before it was raised is not covered
    assert selectors.nav_gate(geq, at(5)).publish is False
    assert selectors.nav_gate(geq, at(0)).publish is True


def test_the_gate_ignores_unrelated_alerts_and_warnings(universe):
    geq = universe.mandate
    findings = [
        # critical, but on an instrument GEQ does not hold
        finding(universe.unheld, severity="critical"),
        # on GEQ's own input, but only a warning
        finding(universe.held, rule="price.stale", severity="warning"),
    ]
    if universe.other is not None:  # held by another mandate only
        findings.append(finding(universe.other, severity="critical"))
    apply(1, findings)
    decision = selectors.nav_gate(geq, at(1))
    assert decision.publish is True and decision.blocking == []


def test_the_gate_blocks_while_acknowledged_or_snoozed_and_opens_when_cleared(universe, operator):
    geq = universe.mandate
    f = finding(universe.held)
    apply(1, [f])
    clock_at(1)
    alert_id = alert_of(f).alert_id
    services.alert_snooze([alert_id], ticks=4, actor=operator)
    # Snoozing quiets an alert; it does not make the data right.
    assert selectors.nav_gate(geq, at(1)).publish is False
    apply(2, [])  # the condition cleared at tick 2
    assert selectors.nav_gate(geq, at(3)).publish is True
    # The gate reads active alerts only: once cleared, the alert blocks no time, not
    # even one inside its window (the data is right again).
    assert selectors.nav_gate(geq, at(1)).publish is True


def test_the_gate_blocks_on_the_custodian_feed_and_fx_a_mandate_needs(universe):
    geq = universe.mandate
    account = geq.custody_account.code
    statement = finding(
        None,
        rule="holding.late_statement",
        severity="critical",
        source="custodian",
        entity_kind="statement",
        entity_key=account,
        inputs=(f"custodian:{account}", f"mandate:{geq.code}"),
    )
    apply(1, [statement])
    assert selectors.nav_gate(geq, at(1)).publish is False
    other = next(
        m for m in type(geq).objects.select_related("custody_account") if m.code != geq.code
    )
    assert selectors.nav_gate(other, at(1)).publish is True


# --- late alerts -------------------------------------------------------------------------


def test_alerts_raised_after_finds_exactly_the_late_alerts_covering_the_nav_time(universe):
    geq = universe.mandate
    a = finding(universe.held, source="primary", message="A")  # raised at tick 10
    b = finding(universe.held, source="secondary", message="B")  # raised at 11, lasts
    h = finding(universe.held, rule="price.stale", severity="warning", message="H")  # 11-12
    c = finding(universe.unheld, message="C")  # raised at 12, unrelated to GEQ
    e = finding(universe.held, rule="price.spike", message="E")  # raised at 13 (= the NAV time)
    d = finding(universe.held, rule="price.scale", message="D")  # raised at 14, after it
    apply(10, [a])
    apply(11, [a, b, h])
    apply(12, [a, b, c])
    apply(13, [a, b, c, e])
    apply(14, [a, b, c, e, d])
    # WHEN reporting asks: which alerts on GEQ's inputs for 15:45 (tick 13) were raised
    # after 15:00 (tick 10, when it published)?
    late = list(selectors.alerts_raised_after(geq, at=at(13), after=at(10)))
    # THEN B and E: not A (raised at the publish time, not after), not H (cleared before
    # the NAV time), not C (another instrument), not D (its window starts after 15:45)
    assert [x.message for x in late] == ["B", "E"]
    assert [x.raised_sim_time for x in late] == [at(11), at(13)]
    # A severity filter narrows it; a publish time after every alert finds none.
    warnings = selectors.alerts_raised_after(geq, at=at(11), after=at(10), severities=("warning",))
    assert [x.message for x in warnings] == ["H"]
    assert list(selectors.alerts_raised_after(geq, at=at(13), after=at(14))) == []


# --- rules -------------------------------------------------------------------------------


def market_with_a_vendor_gap(universe) -> MarketFrame:  # noqa: ANN001
    """A frame where the instrument GEQ holds is 2% apart between the vendors (200 bp)."""
    peers = list(range(900_000, 900_030))
    ids = [universe.held.pk, *peers]
    primary = [102.0, *[30.0] * len(peers)]
    secondary = [100.0, *[30.0] * len(peers)]
    return MarketFrame(
        instrument_id=np.array(ids),
        asset_class=np.array(["equity"] * len(ids), dtype=object),
        primary=np.array(primary),
        secondary=np.array(secondary),
        prev_primary=np.array(secondary),
        prev_secondary=np.array(secondary),
    )


def test_a_rule_change_is_a_new_version_and_new_alerts_name_it(universe, admin_user):
    rule = DQRule.objects.get(code="price.vendor_deviation", asset_class="")
    assert rule.version == 1
    # WHEN an admin widens the tolerance
    updated = services.rule_update(rule, params={"tolerance_bp": 30.0}, actor=admin_user)
    # THEN the rule is at version 2, the other params kept, and the change is in the log
    assert updated.version == 2 and updated.updated_by == admin_user.username
    assert updated.params["tolerance_bp"] == 30.0 and updated.params["critical_multiple"] == 5.0
    changed = Event.objects.filter(kind=events.RULE_CHANGED).get()
    assert changed.payload["version"] == 2 and changed.actor == admin_user.username
    # ...and the engine, reading the rules as they now are, raises alerts naming v2
    found = run_checks(market=market_with_a_vendor_gap(universe), rules=services.rules_current())
    gaps = [f for f in found if f.rule == "price.vendor_deviation"]
    assert gaps and {f.rule_version for f in gaps} == {2}
    apply(1, gaps)
    alert = Alert.objects.get(rule="price.vendor_deviation")
    assert alert.rule_version == 2 and alert.tolerance == pytest.approx(30.0, abs=1.5)


def test_a_rule_change_the_engine_cannot_take_is_refused(universe, admin_user):
    rule = DQRule.objects.get(code="price.spike", asset_class="")
    with pytest.raises(services.DQError):
        services.rule_update(rule, severity="fatal", actor=admin_user)
    rule.refresh_from_db()
    assert rule.version == 1 and rule.severity == "critical"
