"""Domain errors; one handler in the web layer maps them to 404/403/422/409."""


class DomainError(Exception):
    status = 400

    def __init__(self, message: str = "", fields: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class NotFound(DomainError):
    status = 404


class PermissionDenied(DomainError):
    status = 403


class Invalid(DomainError):
    status = 422


class Conflict(DomainError):
    status = 409


class RaceLost(Conflict):
    """Someone else changed the row at the same moment (a stale version, a key taken meanwhile):
    the caller may show the row as it now is rather than a reason."""

    def __init__(self, message: str = ("Someone else changed this item at the same moment. "
                                       "Reload the page to see where it is now."), fields=None):
        super().__init__(message, fields)
