"""API access by role: reading needs any role; writing needs the view's `write_role`."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission

from opssuite import roles


class RolePermission(BasePermission):
    """Reads need `view.read_role` (default viewer); writes `view.write_role` (default operator)."""

    message = "Your role does not allow this."

    def has_permission(self, request: Any, view: Any) -> bool:
        if request.method in SAFE_METHODS:
            needed = getattr(view, "read_role", roles.VIEWER)
        else:
            needed = getattr(view, "write_role", roles.OPERATOR)
        return roles.user_has_role(request.user, needed)
