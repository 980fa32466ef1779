"""Roles: viewer (read), operator (work queues), admin (configuration, fault injection, users).

The three groups are created by a migration (opssuite/migrations/0001_roles.py). A role
includes the ones below it: an admin can do what an operator can, an operator what a
viewer can. Superusers are admins. A signed-in user with no role may not see anything.
"""

from __future__ import annotations

from typing import Any

VIEWER = "viewer"
OPERATOR = "operator"
ADMIN = "admin"
ROLES = (VIEWER, OPERATOR, ADMIN)
_RANK = {VIEWER: 1, OPERATOR: 2, ADMIN: 3}

# Model permissions each role gets on top of the one below it, by app label. Later issues
# add their work-queue models to OPERATOR_CHANGE (breaks, alerts, documents, reports).
OPERATOR_CHANGE_MODELS: set[str] = set()
ADMIN_APP_LABELS = {
    "auth",
    "authtoken",
    "opssuite",
    "book",
    "simulator",
    "recon",
    "ledger",
    "reporting",
    "risk",
    "dataquality",
    "documents",
}


def user_role(user: Any) -> str | None:
    """The highest role the user holds, or None (anonymous, or no role group)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return ADMIN
    cached = getattr(user, "_opssuite_role", "unset")
    if cached != "unset":
        return cached
    names = set(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
    role = max(names, key=_RANK.__getitem__) if names else None
    user._opssuite_role = role
    return role


def user_has_role(user: Any, role: str) -> bool:
    held = user_role(user)
    return held is not None and _RANK[held] >= _RANK[role]


def role_permissions_sync(using: str = "default") -> None:
    """Give each role group its model permissions (idempotent; runs after every migrate)."""
    from django.contrib.auth.models import Group, Permission

    groups = {g.name: g for g in Group.objects.using(using).filter(name__in=ROLES)}
    if len(groups) != len(ROLES):
        return
    permissions = Permission.objects.using(using).select_related("content_type")
    view = [p for p in permissions if p.codename.startswith("view_")]
    operator_extra = [
        p
        for p in permissions
        if f"{p.content_type.app_label}.{p.content_type.model}" in OPERATOR_CHANGE_MODELS
    ]
    admin_all = [p for p in permissions if p.content_type.app_label in ADMIN_APP_LABELS]
    groups[VIEWER].permissions.set(view)
    groups[OPERATOR].permissions.set({*view, *operator_extra})
    groups[ADMIN].permissions.set({*view, *operator_extra, *admin_all})


def role_permissions_sync_handler(sender: Any, using: str = "default", **kwargs: Any) -> None:
    role_permissions_sync(using=using)
