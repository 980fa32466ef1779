from typing import Any

from django.http import HttpRequest

from . import __version__, roles
from .modules import MODULES


def shell(request: HttpRequest) -> dict[str, Any]:
    """What the base template's navigation needs on every page."""
    user = getattr(request, "user", None)
    return {
        "nav_modules": MODULES,
        "opssuite_version": __version__,
        "user_role": roles.user_role(user) if user is not None else None,
    }
