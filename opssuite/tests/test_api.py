"""The API surface: health, token auth, one error format, strict filters, OpenAPI."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from book import events
from book.services import event_record

pytestmark = pytest.mark.django_db


def test_health_answers_anonymously_with_database_tick_and_version(api_client):
    response = api_client.get("/api/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["tick"]["last_id"] == 0
    assert body["version"] == "0.1.0"


def test_health_reports_an_unreachable_broker_as_unavailable(api_client, settings):
    settings.CELERY_BROKER_URL = "redis://:secret@127.0.0.1:1/0"
    response = api_client.get("/api/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["broker"]["ok"] is False
    assert "secret" not in response.content.decode()


def test_health_ignores_a_bad_token(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert api_client.get("/api/health").status_code == 200


def test_token_authentication_from_drf_create_token(api_client, viewer):
    out = io.StringIO()
    call_command("drf_create_token", viewer.username, stdout=out)
    key = Token.objects.get(user=viewer).key
    assert key in out.getvalue()
    assert api_client.get("/api/events").status_code == 401
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api_client.get("/api/events").status_code == 200


def test_an_unknown_token_is_401_in_the_error_format(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Token nope")
    response = api_client.get("/api/overview")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json() == {
        "error": "authentication_failed",
        "message": "Invalid token.",
        "detail": {},
    }


@pytest.mark.parametrize(
    "query, field",
    [
        ("kind=no.such_kind", "kind"),
        ("since=yesterday", "since"),
        ("tick=abc", "tick"),
        ("source=martians", "source"),
        ("trade=T-000001", "trade"),
        ("page=0", "page"),
        ("page=two", "page"),
        ("page_size=100000", "page_size"),
    ],
)
def test_bad_query_parameters_are_a_400_naming_the_field(api_client, viewer, query, field):
    api_client.force_authenticate(viewer)
    response = api_client.get(f"/api/events?{query}")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"] == "validation_error"
    assert list(body["detail"]) == [field]
    assert all(isinstance(m, str) for m in body["detail"][field])


def test_a_body_that_fails_validation_is_a_400_naming_the_field(api_client, admin_user):
    api_client.force_authenticate(admin_user)
    response = api_client.post("/api/clock", {"running": "maybe"}, format="json")
    assert response.status_code == 400
    assert list(response.json()["detail"]) == ["running"]
    missing = api_client.post("/api/clock", {}, format="json")
    assert missing.json()["detail"]["running"] == ["This field is required."]


def test_unknown_ids_and_routes_are_json_404s(api_client, viewer):
    api_client.force_authenticate(viewer)
    for path in ["/api/events/999999", "/api/trace/T-999999", "/api/no-such-route"]:
        response = api_client.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"] == "not_found", path


def test_a_page_past_the_end_is_404(api_client, viewer):
    api_client.force_authenticate(viewer)
    assert api_client.get("/api/events?page=5").status_code == 404


def test_event_list_is_paginated_and_filtered(api_client, viewer):
    for n in range(3):
        event_record(kind=events.TICK_COMPLETED, source="platform", tick=n + 1)
    event_record(kind=events.CLOCK_PAUSED, source="simulator", actor=viewer)
    api_client.force_authenticate(viewer)
    page = api_client.get("/api/events?page_size=2").json()
    assert page["count"] == 4
    assert len(page["results"]) == 2
    assert page["next"] is not None
    assert [e["id"] for e in page["results"]] == sorted(
        (e["id"] for e in page["results"]), reverse=True
    )
    paused = api_client.get("/api/events?kind=clock.paused").json()
    assert paused["count"] == 1
    assert paused["results"][0]["actor"] == viewer.username
    assert api_client.get("/api/events?tick=2").json()["count"] == 1


def test_openapi_schema_and_docs_are_served_without_a_cdn(client, viewer):
    client.force_login(viewer)
    schema = client.get("/api/schema/?format=json")
    assert schema.status_code == 200
    document = schema.json()
    assert document["openapi"].startswith("3.")
    for path in ["/api/health", "/api/events", "/api/trace/{trade_id}", "/api/overview"]:
        assert path in document["paths"], path
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "swagger-ui" in html
    assert "cdn" not in html.lower() and "unpkg" not in html.lower()


def test_overview_api_shows_clock_and_modules(api_client, viewer):
    api_client.force_authenticate(viewer)
    body = api_client.get("/api/overview").json()
    assert body["clock"]["last_tick"] == 0
    slugs = [m["slug"] for m in body["modules"]]
    assert {"recon", "ledger", "reporting", "dataquality", "documents", "risk"} <= set(slugs)
    assert body["events"]["total"] == 0


def test_api_root_links_resolve(api_client, viewer):
    api_client.force_authenticate(viewer)
    links = api_client.get("/api/").json()
    for name in [
        "health",
        "overview",
        "events",
        "clock",
        "market_context",
        "market_prices",
        "instruments",
        "mandates",
        "trades",
        "positions",
    ]:  # noqa: E501
        assert api_client.get(links[name]).status_code == 200, name
