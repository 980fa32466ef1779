"""Platform writes: users and their roles."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser, Group
from django.core.exceptions import ValidationError
from django.db import transaction

from . import roles


@dataclass(frozen=True)
class AdminUserResult:
    user: AbstractUser
    created: bool
    generated_password: str | None  # shown once, only when we made it up


def user_create(*, username: str, password: str, role: str) -> AbstractUser:
    """A user holding exactly one role; admins also get the Django admin site."""
    if role not in roles.ROLES:
        raise ValidationError({"role": [f"must be one of {', '.join(roles.ROLES)}"]})
    User = get_user_model()
    if User.objects.filter(username=username).exists():
        raise ValidationError({"username": [f"user {username!r} already exists"]})
    with transaction.atomic():
        user = User.objects.create_user(username=username, password=password)
        if role == roles.ADMIN:
            user.is_staff = True
            user.is_superuser = True
            user.save(update_fields=["is_staff", "is_superuser"])
        user.groups.add(role_group(role))
    return user


def role_group(role: str) -> Group:
    """The role's group. A migration creates all three; should one have been deleted
    since (by hand, or by a test database flush) it is made again, with its permissions."""
    group, created = Group.objects.get_or_create(name=role)
    if created:
        for name in roles.ROLES:
            Group.objects.get_or_create(name=name)
        roles.role_permissions_sync()
    return group


def admin_user_ensure(*, username: str, password: str | None) -> AdminUserResult:
    """Create the first admin once; if it exists, leave it (and its password) alone."""
    User = get_user_model()
    existing = User.objects.filter(username=username).first()
    if existing is not None:
        return AdminUserResult(user=existing, created=False, generated_password=None)
    generated = None
    if not password:
        generated = password = secrets.token_urlsafe(12)
    user = user_create(username=username, password=password, role=roles.ADMIN)
    return AdminUserResult(user=user, created=True, generated_password=generated)
