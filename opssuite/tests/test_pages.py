"""Pages: the shell, overview (full and HTMX partial), placeholders, market, /metrics."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token

from book import events
from book.models import Event
from opssuite import pipeline
from opssuite.modules import MODULES
from simulator.models import Clock

pytestmark = pytest.mark.django_db


def test_login_page_signs_in_and_records_it(client, make_user):
    user = make_user("viewer", username="ann", password="pw-Secret-123")
    assert client.get("/login/").status_code == 200
    response = client.post("/login/", {"username": "ann", "password": "pw-Secret-123"})
    assert response.status_code == 302 and response["Location"] == "/"
    signed_in = Event.objects.get(kind=events.USER_SIGNED_IN)
    assert (signed_in.actor, signed_in.actor_user_id) == ("ann", user.pk)
    client.post("/logout/")
    assert Event.objects.filter(kind=events.USER_SIGNED_OUT, actor="ann").count() == 1
    assert client.get("/").status_code == 302


def test_a_wrong_password_is_refused(client, make_user):
    make_user("viewer", username="bob", password="pw-Secret-123")
    response = client.post("/login/", {"username": "bob", "password": "nope"})
    assert response.status_code == 200
    assert b"didn't match" in response.content


def test_every_navigation_page_renders_for_a_viewer(client, viewer):
    client.force_login(viewer)
    for module in MODULES:
        response = client.get(f"/{module.slug}/" if module.slug != "overview" else "/")
        assert response.status_code == 200, module.slug
        html = response.content.decode()
        assert f">{module.label}<" in html, module.slug  # the nav entry
        assert "vendor/htmx-2.0.11.min.js" in html and "vendor/pico-2.1.1.min.css" in html


def test_placeholders_say_they_are_not_built_and_show_no_figures(client, viewer):
    client.force_login(viewer)
    for module in (m for m in MODULES if m.placeholder):
        html = client.get(f"/{module.slug}/").content.decode()
        assert "not built yet" in html, module.slug


def test_overview_shows_the_clock_and_its_partial_updates(client, viewer):
    pipeline.tick_advance(worker="w")
    pipeline.tick_advance(worker="w")
    client.force_login(viewer)
    page = client.get("/").content.decode()
    assert '<dd id="last-tick">2</dd>' in page
    partial = client.get("/", HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in partial
    assert '<dd id="last-tick">2</dd>' in partial


def test_admin_pauses_the_clock_from_the_market_page(client, admin_user, viewer):
    client.force_login(viewer)
    assert client.post("/market/clock/", {"running": "0"}).status_code == 403
    assert Clock.objects.get_or_create(pk=1)[0].running
    client.force_login(admin_user)
    assert client.get("/market/").status_code == 200
    response = client.post("/market/clock/", {"running": "0"})
    assert response.status_code == 302
    assert Clock.objects.get(pk=1).running is False
    assert Event.objects.filter(kind=events.CLOCK_PAUSED, actor=admin_user.username).exists()


def test_market_page_refuses_an_operator_clock_change(client, operator):
    client.force_login(operator)
    assert client.post("/market/clock/", {"running": "0"}).status_code == 403


def test_the_admin_is_branded_as_the_back_office(client, admin_user):
    client.force_login(admin_user)
    html = client.get("/admin/").content.decode()
    assert "opssuite back office" in html


def test_metrics_open_from_localhost_closed_elsewhere(client, viewer, admin_user):
    local = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert local.status_code == 200
    assert b"django_http_requests_total" in local.content
    assert client.get("/metrics", REMOTE_ADDR="198.51.100.7").status_code == 403
    client.force_login(viewer)
    assert client.get("/metrics", REMOTE_ADDR="198.51.100.7").status_code == 403
    client.logout()
    token = Token.objects.create(user=admin_user)
    by_token = client.get(
        "/metrics", REMOTE_ADDR="198.51.100.7", HTTP_AUTHORIZATION=f"Token {token.key}"
    )
    assert by_token.status_code == 200


def test_metrics_count_ticks_by_outcome(client):
    from prometheus_client import REGISTRY

    def count(outcome: str) -> float:
        return REGISTRY.get_sample_value("opssuite_ticks_total", {"outcome": outcome}) or 0.0

    ran, repeated = count("ran"), count("already_done")
    pipeline.tick_run(1, worker="w")
    pipeline.tick_run(1, worker="w")
    assert (count("ran"), count("already_done")) == (ran + 1, repeated + 1)
    text = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    assert f'opssuite_ticks_total{{outcome="ran"}} {ran + 1}' in text
    assert "opssuite_tick_seconds_count" in text
