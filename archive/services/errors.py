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


# The words for a customer, dossier or document that does not exist. One that exists but
# may not be seen is refused with the very same words (access.require), or the answer
# would tell that it exists: both take them from `not_found`.
NOT_FOUND_MESSAGES = {"customer": "客户不存在", "dossier": "档案不存在", "document": "文件不存在"}


def not_found(kind: str) -> NotFound:
    """The refusal of a `kind` of object ("customer", "dossier", "document") that does not
    exist or may not be seen: byte for byte the same either way."""
    return NotFound(NOT_FOUND_MESSAGES.get(kind, "对象不存在"))


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
