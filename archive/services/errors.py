"""Domain errors. Services raise these; each blueprint kind maps them to HTTP once."""


class DomainError(Exception):
    """Base of every error a service raises on purpose; `message` is shown to the user."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, details: dict | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details or {}


class Invalid(DomainError):
    """Input that breaks a rule: missing or malformed fields (422)."""

    status = 422
    code = "invalid"


class BadRequest(DomainError):
    """A request that cannot be understood at all, e.g. a malformed query (400)."""

    status = 400
    code = "bad_request"


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class TooLarge(DomainError):
    status = 413
    code = "too_large"


class UnsupportedType(DomainError):
    """File content of a type the archive does not accept, or that lies about its type (415)."""

    status = 415
    code = "unsupported_type"


class IntegrityError(DomainError):
    """Stored bytes no longer match their hash: never served."""

    status = 500
    code = "integrity"


class StorageFull(DomainError):
    """The blob store's disk (or the archive's quota on it) is full: nothing was stored (507)."""

    status = 507
    code = "storage_full"


class Unavailable(DomainError):
    """A part the request needs is being repaired (the search index): try again shortly (503)."""

    status = 503
    code = "unavailable"
