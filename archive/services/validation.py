"""Reading user input (form fields or JSON) into typed values, with Chinese errors."""

from datetime import date

from archive.models.enums import CARRIERS, CATEGORIES, Level, Retention
from archive.services.errors import Invalid


def text(data: dict, key: str, label: str, *, required: bool = False, max_len: int = 200) -> str:
    value = data.get(key)
    if value is None:
        value = ""
    if not isinstance(value, str | int):
        raise Invalid(f"{label}格式不正确", details={"field": key})
    value = str(value).strip()
    if required and not value:
        raise Invalid(f"请填写{label}", code="missing_field", details={"field": key})
    if len(value) > max_len:
        raise Invalid(f"{label}过长（最多 {max_len} 个字符）", details={"field": key})
    if any(ord(c) < 32 and c not in "\t\n\r" for c in value):
        raise Invalid(f"{label}含有非法字符", details={"field": key})
    return value


def integer(data: dict, key: str, label: str, *, required: bool = False) -> int | None:
    value = data.get(key)
    if value in (None, ""):
        if required:
            raise Invalid(f"请填写{label}", code="missing_field", details={"field": key})
        return None
    try:
        if isinstance(value, bool):
            raise ValueError
        return int(value)
    except (TypeError, ValueError):
        raise Invalid(f"{label}必须是整数", details={"field": key}) from None


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


def day(data: dict, key: str, label: str) -> date | None:
    value = data.get(key)
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise Invalid(f"{label}格式应为 YYYY-MM-DD", details={"field": key}) from None
