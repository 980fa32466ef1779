"""One error body for every API 4xx/5xx: {"error": code, "message": text, "detail": {field: [..]}}.

`detail` names the fields at fault (query parameters, body fields); errors that belong to
no field have an empty `detail`.

The services raise Django's own exceptions (they know nothing of HTTP): a
`django.core.exceptions.ValidationError` with a field dict becomes a 400 naming those
fields, and `ObjectDoesNotExist` (an unknown id reaching a service) a 404.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def _messages(value: Any) -> Any:
    """Field errors as lists of strings (nested serializers keep their nesting)."""
    if isinstance(value, dict):
        return {str(key): _messages(item) for key, item in value.items()}
    if isinstance(value, list):
        if all(not isinstance(item, dict | list) for item in value):
            return [str(item) for item in value]
        return [_messages(item) for item in value]
    return [str(value)]


def error_body(code: str, message: str, detail: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": code, "message": message, "detail": detail or {}}


def django_validation_detail(exc: DjangoValidationError) -> dict[str, list[str]]:
    """The field dict of a Django ValidationError; errors tied to no field go under
    `non_field_errors`, as DRF names them."""
    if hasattr(exc, "error_dict"):
        detail = {
            ("non_field_errors" if field == "__all__" else field): messages
            for field, messages in exc.message_dict.items()
        }
    else:
        detail = {"non_field_errors": list(exc.messages)}
    return detail


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(django_validation_detail(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(*exc.args)
    elif isinstance(exc, ObjectDoesNotExist):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        if isinstance(detail, list):
            detail = {"non_field_errors": detail}
        response.data = error_body("validation_error", "Invalid input.", _messages(detail))
        return response
    if isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else exc.default_code
        response.data = error_body(str(code), str(exc.detail))
    return response


def json_error(request: HttpRequest, status_code: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status_code)


def api_not_found(request: HttpRequest) -> JsonResponse:
    return json_error(request, status.HTTP_404_NOT_FOUND, "not_found", "No such API route.")


def api_server_error(request: HttpRequest) -> JsonResponse:
    return json_error(
        request, status.HTTP_500_INTERNAL_SERVER_ERROR, "server_error", "Internal error."
    )
