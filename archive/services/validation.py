"""Reading user input (form fields, JSON, query strings) into typed values, with Chinese
errors."""

import re
from datetime import date

from archive.models.enums import CARRIERS, CATEGORIES, Level, Retention
from archive.services.errors import Invalid

# The integers every engine's INTEGER column holds (PostgreSQL's is 32-bit; SQLite's would
# take 64): a larger id or number cannot even be looked up or stored, the driver fails on it.
MAX_INTEGER = 2**31 - 1
MIN_INTEGER = -(2**31)
# A page number past any list the archive could show; the offset stays far inside
# MAX_INTEGER whatever the page size.
MAX_PAGE = 1_000_000
# Characters that change the direction of the text around them: "合同\u202efdp.exe" is
# shown as "合同exe.pdf", a name can hide or reorder what follows it on the page. File
# names refuse them with every other format character (filetypes.safe_filename).
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
                          "\u2066\u2067\u2068\u2069")
# Half of a UTF-16 pair on its own: valid as a JSON escape ("\\ud800"), but no UTF-8 page,
# file or database can store it.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def has_lone_surrogate(value: str) -> bool:
    return not value.isascii() and _LONE_SURROGATE.search(value) is not None


def text(data: dict, key: str, label: str, *, required: bool = False, max_len: int = 200) -> str:
    """A text field, stripped. Numbers are taken as their digits (clients send a room or
    unit as 1201); anything else that is not a string, JSON `true` included, is refused."""
    value = data.get(key)
    if value is None:
        value = ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise Invalid(f"{label}格式不正确", details={"field": key})
    value = str(value).strip()
    if required and not value:
        raise Invalid(f"请填写{label}", code="missing_field", details={"field": key})
    if len(value) > max_len:
        raise Invalid(f"{label}过长（最多 {max_len} 个字符）", details={"field": key})
    if any(ord(c) < 32 and c not in "\t\n\r" for c in value) or has_lone_surrogate(value):
        raise Invalid(f"{label}含有非法字符", details={"field": key})
    if not BIDI_CONTROLS.isdisjoint(value):
        raise Invalid(f"{label}含有文字方向控制符（如 U+202E），会颠倒页面上文字的顺序，"
                      "请删除后重新填写", code="bidi_control", details={"field": key})
    return value


_ASCII_WHOLE = re.compile(r"\s*[+-]?[0-9]+\s*")


def _whole_number(value) -> int | None:
    """`value` as an int if it is one (a number or its digits), else None. JSON's true is
    not 1, and infinity is not a number here."""
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        return None  # 1.5 is not 1
    if isinstance(value, str) and not _ASCII_WHOLE.fullmatch(value):
        return None  # int() also reads "３", "١" and "1_000": an id is written in ASCII digits
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return None


def row_id(value) -> int | None:
    """`value` (a number or its digits) as an id a row could have, else None: a lookup
    by it finds nothing rather than failing in the driver."""
    number = _whole_number(value)
    return number if number is not None and 0 < number <= MAX_INTEGER else None


def integer(data: dict, key: str, label: str, *, required: bool = False) -> int | None:
    """An integer field (form, JSON or query string): None when empty, refused when it is
    not a whole number or lies outside what the database can hold."""
    value = data.get(key)
    if value in (None, ""):
        if required:
            raise Invalid(f"请填写{label}", code="missing_field", details={"field": key})
        return None
    number = _whole_number(value)
    if number is None:
        raise Invalid(f"{label}必须是整数", details={"field": key})
    if not MIN_INTEGER <= number <= MAX_INTEGER:
        raise Invalid(f"{label}超出范围", code="out_of_range", details={"field": key})
    return number


def page(args: dict, key: str = "page") -> int:
    """The page a list's query string asks for. A hand-edited link is not worth an error:
    no number, or one below 1, is the first page; a number past MAX_PAGE is MAX_PAGE (the
    list then shows its last page or nothing, as for any page past its end)."""
    number = _whole_number(args.get(key))
    if number is None or number < 1:
        return 1
    return min(number, MAX_PAGE)


def file_parts(form, files, *, key: str = "file", keep_empty: bool) -> list[tuple[str, bytes]]:
    """The files sent in an upload's `key` field, as (name, bytes).

    Refused (422) when `key` arrived as a text field instead: `curl -F 'file=<a.pdf'`
    (the content as text), a urlencoded body, or a part whose file name the server could
    not read (a bare CR in it). Filed without it, the document would be a paper-only
    record the client takes for its file. `keep_empty=False` drops a part with neither
    name nor bytes: a browser's file input left empty, which files a paper original."""
    if key in form:
        raise Invalid(f"字段 {key} 收到的是文本而不是文件，未归档任何内容。请以文件方式上传"
                      f"（如 curl -F '{key}=@合同.pdf'）", code="file_not_attached",
                      details={"field": key})
    parts = []
    for part in files:
        data = part.read()
        if part.filename or data or keep_empty:
            parts.append((part.filename or "", data))
    return parts


def level(data: dict, key: str, default: Level) -> Level:
    value = data.get(key)
    if value in (None, ""):
        return default
    try:
        return Level.parse(value)
    except ValueError:
        raise Invalid(
            "密级只能是 公开、内部、秘密、机密、绝密 之一", details={"field": key}
        ) from None


def choice(data: dict, key: str, label: str, options, *, default=None) -> str:
    value = text(data, key, label)
    if not value:
        if default is None:
            raise Invalid(f"请选择{label}", code="missing_field", details={"field": key})
        return default
    if value not in options:
        raise Invalid(f"{label}只能是：{'、'.join(options)}", details={"field": key})
    return value


def category(data: dict) -> str:
    return choice(data, "category", "类别", CATEGORIES)


def carrier(data: dict, default: str | None) -> str:
    return choice(data, "carrier", "载体", CARRIERS, default=default)


def retention(data: dict, default: str) -> str:
    return choice(data, "retention", "保管期限", [r.value for r in Retention], default=default)


def flag(data: dict, key: str, label: str) -> bool:
    """A yes/no field: true/false, 1/0, on (a checked box), yes/no; missing is no."""
    value = data.get(key)
    if isinstance(value, str):
        value = value.strip().lower()
    if value in (None, "", False, 0, "0", "false", "off", "no"):
        return False
    if value in (True, 1, "1", "true", "on", "yes"):
        return True
    raise Invalid(f"{label}须为 true 或 false", details={"field": key})


# The dates any field takes: a year 1 or 9999 is a slip of the keyboard, and at those
# ends the archive's own arithmetic (Beijing time to UTC, the day after) leaves the
# calendar Python can represent.
EARLIEST_DAY, LATEST_DAY = date(1900, 1, 1), date(2999, 12, 31)
# YYYY-MM-DD, or YYYYMMDD as spreadsheets often hold it (an import's manifest).
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{8}")


def day(data: dict, key: str, label: str) -> date | None:
    value = data.get(key)
    if value in (None, ""):
        return None
    text = str(value).strip()
    try:
        # fromisoformat also takes 2026-W01-1, 2026-001 and full-width digits: not here.
        if not _ISO_DAY.fullmatch(text):
            raise ValueError(text)
        found = date.fromisoformat(text)
    except ValueError:
        raise Invalid(f"{label}格式应为 YYYY-MM-DD", details={"field": key}) from None
    return in_range(found, key, label)


def in_range(found: date, key: str, label: str) -> date:
    """`found`, if it lies between EARLIEST_DAY and LATEST_DAY."""
    if not EARLIEST_DAY <= found <= LATEST_DAY:
        raise Invalid(f"{label}超出范围（{EARLIEST_DAY.isoformat()} 至 {LATEST_DAY.isoformat()}）",
                      code="out_of_range", details={"field": key})
    return found
