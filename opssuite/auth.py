"""Page access: every page needs a signed-in user with a role; changing state needs operator.

The API is left to DRF (its token and session authentication run inside the view, after
this middleware), so DRF views are skipped here and guarded by `RolePermission` instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from rest_framework.views import APIView

from . import roles

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def any_role_may_post(view_func: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a page whose POST any signed-in role may send (signing out)."""
    view_func.any_role_may_post = True  # type: ignore[attr-defined]
    return view_func


def _drf_view_class(view_func: Callable[..., Any]) -> type | None:
    view_class = getattr(view_func, "cls", None)
    if isinstance(view_class, type) and issubclass(view_class, APIView):
        return view_class
    return None


def is_api_view(view_func: Callable[..., Any]) -> bool:
    """A DRF view answering API clients (not a DRF-rendered page such as the API docs)."""
    view_class = _drf_view_class(view_func)
    return view_class is not None and not getattr(view_class, "is_page", False)


def is_public_page(view_func: Callable[..., Any]) -> bool:
    # DRF marks every APIView `login_required = False` (it authenticates inside the
    # view); for a DRF-rendered page that mark must not make it public.
    if _drf_view_class(view_func) is not None:
        return False
    return not getattr(view_func, "login_required", True)


class RoleRequiredMiddleware(LoginRequiredMiddleware):
    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: Any,
        view_kwargs: Any,
    ) -> HttpResponse | None:
        if is_api_view(view_func) or is_public_page(view_func):
            return None
        if not request.user.is_authenticated:
            return self.handle_no_permission(request, view_func)
        role = roles.user_role(request.user)
        if role is None:
            return self._forbidden(request, "Your account has no role yet: ask an admin.")
        if (
            request.method not in SAFE_METHODS
            and not getattr(view_func, "any_role_may_post", False)
            and not roles.user_has_role(request.user, roles.OPERATOR)
        ):
            return self._forbidden(request, "Your role (viewer) can read but not change.")
        return None

    def _forbidden(self, request: HttpRequest, reason: str) -> HttpResponse:
        response = TemplateResponse(request, "403.html", {"reason": reason}, status=403)
        return response.render()
