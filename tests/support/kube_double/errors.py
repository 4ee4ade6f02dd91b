"""Failures as the API server answers them: a ``Status`` body with the reason, code, message and details a
real kube-apiserver gives (the phrases ``../shared/kube-contract`` holds it to)."""

from __future__ import annotations

from typing import Any


class ApiFailure(Exception):
    """An answer other than success; ``body()`` is the Status object sent back."""

    def __init__(self, code: int, reason: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details or {}

    def body(self) -> dict[str, Any]:
        status: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                  "message": self.message, "reason": self.reason}
        if self.details:
            status["details"] = self.details
        status["code"] = self.code
        return status


def _details(name: str | None, kind: str, group: str) -> dict:
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    details["kind"] = kind
    return details


def qualified(plural: str, group: str) -> str:
    """``statefulsets.apps``, ``configmaps``: how messages name a resource."""
    return f"{plural}.{group}" if group else plural


def not_found(plural: str, group: str, name: str) -> ApiFailure:
    return ApiFailure(404, "NotFound", f'{qualified(plural, group)} "{name}" not found', _details(name, plural, group))


def already_exists(plural: str, group: str, name: str) -> ApiFailure:
    return ApiFailure(409, "AlreadyExists", f'{qualified(plural, group)} "{name}" already exists',
                      _details(name, plural, group))


def modified(plural: str, group: str, name: str) -> ApiFailure:
    return ApiFailure(409, "Conflict", f'Operation cannot be fulfilled on {qualified(plural, group)} "{name}": the object '
                      "has been modified; please apply your changes to the latest version and try again",
                      _details(name, plural, group))


def precondition_uid(plural: str, group: str, name: str, wanted: str, actual: str) -> ApiFailure:
    return ApiFailure(409, "Conflict", f'Operation cannot be fulfilled on {qualified(plural, group)} "{name}": '
                      f"Precondition failed: UID in precondition: {wanted}, UID in object meta: {actual}",
                      _details(name, plural, group))


def invalid(kind: str, group: str, name: str, causes: list[tuple[str, str, str]]) -> ApiFailure:
    """422 for (field, reason, message) causes, e.g. ("spec.selector", "FieldValueInvalid", "Invalid value: ...")."""
    what = f"{kind}.{group}" if group else kind
    text = ", ".join(f"{field}: {message}" for field, _, message in causes)
    if len(causes) > 1:
        text = "[" + text + "]"
    details = _details(name, kind, group)
    details["causes"] = [{"reason": reason, "message": message, "field": field} for field, reason, message in causes]
    return ApiFailure(422, "Invalid", f'{what} "{name}" is invalid: {text}', details)


def forbidden(plural: str, group: str, name: str | None, why: str) -> ApiFailure:
    subject = f'{qualified(plural, group)} "{name}"' if name else qualified(plural, group)
    return ApiFailure(403, "Forbidden", f"{subject} is forbidden: {why}", _details(name, plural, group))


def bad_request(message: str) -> ApiFailure:
    return ApiFailure(400, "BadRequest", message)


def unauthorized() -> ApiFailure:
    return ApiFailure(401, "Unauthorized", "Unauthorized")


def unsupported_media_type() -> ApiFailure:
    return ApiFailure(415, "UnsupportedMediaType", "415: Unsupported Media Type")


def method_not_allowed(method: str) -> ApiFailure:
    return ApiFailure(405, "MethodNotAllowed", f"the server does not allow this method on the requested resource ({method})")
