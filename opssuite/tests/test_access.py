"""Every URL the suite serves refuses anonymous users; a viewer can change nothing.

The URL list is walked from the resolver, so a route added later is covered without
anyone remembering to add it here.
"""

from __future__ import annotations

import re

import pytest
import yaml
from django.urls import URLPattern, URLResolver, get_resolver

SAMPLE_VALUES = {"trade_id": "T-000001", "pk": "1", "id": "1", "slug": "x"}
UNSAFE_METHODS = ("post", "put", "patch", "delete")

# Open to anonymous users, on purpose.
PUBLIC = {"/api/health", "/login/", "/admin/login/"}
# Under /api/ but pages for people: signing in redirects as on every other page.
API_PAGES = {"/api/docs/"}
# Signing in and out is allowed to anyone who can reach the form; it changes no record.
ANY_ROLE_MAY_POST = {"/login/", "/logout/", "/admin/login/", "/admin/logout/"}


def _sample(pattern: str) -> str:
    """A concrete path from a route or regex pattern, with sample values in its slots."""
    pattern = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: SAMPLE_VALUES.get(m.group(1), "1"), pattern)
    pattern = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: SAMPLE_VALUES.get(m.group(1), "1"), pattern)
    pattern = re.sub(r"\((?:\?:)?([^|()]+)(?:\|[^()]*)?\)", r"\1", pattern)  # first alternative
    pattern = pattern.replace("^", "").replace("$", "").replace("\\Z", "").replace("\\", "")
    return pattern.replace("?", "")


def walk(resolvers: list, prefix: str = "") -> list[str]:
    paths: list[str] = []
    for entry in resolvers:
        piece = _sample(str(entry.pattern))
        if isinstance(entry, URLResolver):
            paths += walk(entry.url_patterns, prefix + piece)
        elif isinstance(entry, URLPattern):
            paths.append("/" + prefix + piece)
    return sorted(set(paths))


def all_paths() -> list[str]:
    return [p for p in walk(get_resolver().url_patterns) if not p.startswith("/static/")]


def test_the_walk_finds_the_routes_that_matter():
    paths = all_paths()
    for expected in [
        "/",
        "/api/events",
        "/api/events/1",
        "/api/trace/T-000001",
        "/events/",
        "/recon/",
        "/admin/",
        "/metrics",
    ]:  # noqa: E501
        assert expected in paths, expected
    assert len(paths) > 40


@pytest.mark.django_db
@pytest.mark.parametrize("path", all_paths())
def test_anonymous_is_refused_everywhere_but_the_public_routes(client, path):
    response = client.get(path, REMOTE_ADDR="203.0.113.9")
    if path in PUBLIC:
        assert response.status_code == 200
        return
    if path.startswith("/api/") and path not in API_PAGES:
        assert response.status_code in (401, 403), (path, response.status_code)
        # The schema answers in OpenAPI YAML by default; YAML reads JSON too.
        body = yaml.safe_load(response.content)
        assert body["error"] in ("not_authenticated", "authentication_failed")
    elif path == "/metrics":
        assert response.status_code == 403
    else:
        assert response.status_code == 302, (path, response.status_code)
        assert "login" in response["Location"], (path, response["Location"])


@pytest.mark.django_db
@pytest.mark.parametrize("path", all_paths())
def test_a_viewer_cannot_call_any_unsafe_method(client, viewer, path):
    if path in ANY_ROLE_MAY_POST:
        pytest.skip("signing in and out")
    client.force_login(viewer)
    for method in UNSAFE_METHODS:
        response = getattr(client, method)(path, REMOTE_ADDR="203.0.113.9")
        if path.startswith("/admin/"):
            # The Django admin sends non-staff users to its own sign-in page.
            assert response.status_code in (302, 403), (method, path, response.status_code)
            if response.status_code == 302:
                assert "/admin/login/" in response["Location"]
        elif path in PUBLIC or path == "/metrics":
            assert response.status_code == 405, (method, path, response.status_code)
        else:
            assert response.status_code == 403, (method, path, response.status_code)


@pytest.mark.django_db
def test_a_user_without_a_role_sees_nothing(client, make_user, api_client):
    nobody = make_user(None)
    client.force_login(nobody)
    assert client.get("/").status_code == 403
    api_client.force_authenticate(nobody)
    assert api_client.get("/api/events").status_code == 403


@pytest.mark.django_db
def test_an_operator_may_write_but_not_configure(api_client, operator, admin_user):
    api_client.force_authenticate(operator)
    refused = api_client.post("/api/clock", {"running": False}, format="json")
    assert refused.status_code == 403
    assert refused.json()["error"] == "permission_denied"
    api_client.force_authenticate(admin_user)
    paused = api_client.post("/api/clock", {"running": False}, format="json")
    assert paused.status_code == 200
    assert paused.json()["running"] is False
