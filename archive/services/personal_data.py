"""Customers' identity and telephone numbers: checked when typed (issue 18), so that a
mistyped 身份证 or 统一社会信用代码 is caught at the counter, not years later."""

import re
import unicodedata
from datetime import date

from archive.services import access, validation
from archive.services.errors import Invalid

# GB 11643-1999: the 18th character of a 公民身份号码 is an ISO 7064 MOD 11-2 check.
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# GB 32100-2015: the 统一社会信用代码's alphabet (no I, O, S, V, Z) and its check weights.
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# Other documents a person may show (passport, 港澳/台湾 permits, foreign IDs).
_OTHER_DOCUMENT = re.compile(r"[A-Z0-9][A-Z0-9()-]{4,29}")
_PHONE_SEPARATORS = re.compile(r"[,，、/;；]+")
_EXTENSION = re.compile(r"(?:转|#|ext\.?|分机)\s*(\d{1,6})$", re.IGNORECASE)
_MOBILE = re.compile(r"1[3-9]\d{9}")
_LANDLINE = re.compile(r"(?:0\d{2,3})?[2-9]\d{6,7}")
_SERVICE = re.compile(r"(?:400|800)\d{7}")


def _compact(value: str) -> str:
    """Full-width characters made ASCII, spaces dropped, letters upper case."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", value)).upper()


def id_check_digit(first17: str) -> str:
    """The 18th character of a 身份证 number whose first 17 digits are given."""
    return _ID_CHECK[sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def uscc_check_character(first17: str) -> str:
    """The 18th character of a 统一社会信用代码 whose first 17 characters are given."""
    total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return _USCC_ALPHABET[(31 - total % 31) % 31]


def _resident_id(number: str) -> str:
    if not re.fullmatch(r"\d{17}[\dX]", number):
        raise Invalid(f"身份证号码应为 18 位：17 位数字加 1 位校验码（数字或 X），现为 "
                      f"{len(number)} 位：{number}", code="invalid_id_number",
                      details={"field": "id_number"})
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        born = None
    if born is None or born.year < 1900 or born > date.today():
        raise Invalid(f"身份证号码第 7–14 位应为出生日期（年月日），{number[6:14]} 不是有效日期",
                      code="invalid_id_number", details={"field": "id_number"})
    expected = id_check_digit(number[:17])
    if number[17] != expected:
        raise Invalid(f"身份证号码校验码不符：按前 17 位第 18 位应为 {expected}，"
                      f"而填写的是 {number[17]}，请核对是否抄错", code="invalid_id_number",
                      details={"field": "id_number"})
    return number


def _credit_code(number: str) -> str:
    if len(number) != 18:
        raise Invalid(f"统一社会信用代码应为 18 位，现为 {len(number)} 位：{number}",
                      code="invalid_id_number", details={"field": "id_number"})
    wrong = sorted({c for c in number if c not in _USCC_ALPHABET})
    if wrong:
        raise Invalid(f"统一社会信用代码不使用字母 I、O、S、V、Z 及其他符号，含有：{'、'.join(wrong)}",
                      code="invalid_id_number", details={"field": "id_number"})
    expected = uscc_check_character(number[:17])
    if number[17] != expected:
        raise Invalid(f"统一社会信用代码校验码不符：按前 17 位第 18 位应为 {expected}，"
                      f"而填写的是 {number[17]}，请核对是否抄错", code="invalid_id_number",
                      details={"field": "id_number"})
    return number


def id_number(data: dict, kind: str, key: str = "id_number") -> str:
    """The customer's 证件号码 as stored (compact, upper case) or "". A person's 18-digit
    number is a 身份证 and must pass its check digit and date; other documents (passport,
    港澳台 permits) are taken as letters and digits. A company's is its 18-character
    统一社会信用代码 with its check character."""
    number = _compact(validation.text(data, key, "证件号码", max_len=60))
    if not number:
        return ""
    if kind == "company":
        return _credit_code(number)
    if number.isdigit() or re.fullmatch(r"\d{17}X", number):
        return _resident_id(number)
    if not _OTHER_DOCUMENT.fullmatch(number):
        raise Invalid("证件号码只能由字母、数字组成（身份证为 18 位，最后一位可为 X；"
                      "护照、港澳台通行证按证件填写）", code="invalid_id_number",
                      details={"field": key})
    return number


def _one_phone(text: str) -> bool:
    number = _compact(text)
    extension = _EXTENSION.search(number)
    if extension:
        number = number[:extension.start()]
    number = re.sub(r"[()\-]", "", number)
    for prefix in ("+86", "0086"):
        if number.startswith(prefix):
            number = number[len(prefix):]
    return bool(_MOBILE.fullmatch(number) or _SERVICE.fullmatch(number)
                or _LANDLINE.fullmatch(number))


def phone(data: dict, key: str = "phone") -> str:
    """The telephone field as typed (trimmed), each of its numbers checked: a mobile (11
    digits from 13–19), a landline with or without its area code and extension, or a
    400/800 number; several are separated by "、"."""
    value = validation.text(data, key, "联系电话", max_len=40)
    if not value:
        return ""
    bad = [part.strip() for part in _PHONE_SEPARATORS.split(value)
           if part.strip() and not _one_phone(part)]
    if bad or not _PHONE_SEPARATORS.sub("", value).strip():
        raise Invalid(f"联系电话格式不正确：{'、'.join(bad) or value}。手机号为 11 位（如 13800138000），"
                      "固定电话如 0755-26000000 或 0755-26000000 转 123，多个号码用“、”分隔",
                      code="invalid_phone", details={"field": key})
    return value


# -- masking ----------------------------------------------------------------------------
# Outside the archive room and the customer's own department, ID and telephone numbers
# are shown masked (4403**********1234, 138****8000): in lists, search hits, exports and
# audit details (access rule "customer.personal_data").

_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{8})(\d{3}[\dXx])(?![0-9A-Za-z])")
_MOBILE_IN_TEXT = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")


def mask_id(value: str) -> str:
    """An ID number with all but its first and last four characters starred."""
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_phone(value: str) -> str:
    """A telephone field with all its digits starred but the first three and the last
    four (separators kept as typed): 138****8000."""
    digits = [i for i, c in enumerate(value) if c.isdigit()]
    if len(digits) <= 4:
        return value
    keep = set(digits[:3] + digits[-4:]) if len(digits) > 7 else set(digits[-4:])
    return "".join("*" if c.isdigit() and i not in keep else c for i, c in enumerate(value))


def mask_text(text: str) -> str:
    """Free text (a snippet, an audit detail) with 身份证 numbers and mobile numbers in it
    masked."""
    text = _ID_IN_TEXT.sub(lambda m: m.group(1)[:4] + "*" * 10 + m.group(3)[-4:], text)
    return _MOBILE_IN_TEXT.sub(lambda m: m.group(1) + "****" + m.group(3), text)


def mask_snippet(html: str) -> str:
    """A search hit's highlighted snippet masked like `mask_text`. A highlight mark inside
    a number is dropped first, or the number would escape the mask in pieces."""
    html = re.sub(r"(?<=\d)</?mark>|</?mark>(?=\d)", "", html)
    return mask_text(html)


def in_full(viewer) -> bool:
    """Whether `viewer` sees every customer's numbers in full (the archive room, the GM):
    the rule for what names no one customer, such as audit details."""
    return access.can(viewer, "customer.personal_data", None)


def shown(viewer, customer) -> dict:
    """The customer's ID and telephone numbers as `viewer` may see them: in full for the
    archive room, the GM and the customer's own department, masked for everyone else."""
    if access.can(viewer, "customer.personal_data", customer):
        return {"id_number": customer.id_number, "phone": customer.phone}
    return {"id_number": mask_id(customer.id_number) if customer.id_number else "",
            "phone": mask_phone(customer.phone) if customer.phone else ""}
