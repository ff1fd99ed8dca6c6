"""The English UI: every Chinese msgid in the code has an English translation, and pages
switch language with the session."""

import io
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "archive" / "translations" / "en" / "LC_MESSAGES" / "messages.po"


def _catalogue():
    with CATALOGUE.open("rb") as fh:
        return read_po(fh, locale="en")


def _source_msgids() -> set[str]:
    """The msgids `make translations` would extract from the code as it is now."""
    with (ROOT / "babel.cfg").open() as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    keywords = {**DEFAULT_KEYWORDS, "lazy_gettext": None}
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        ROOT, method_map, options_map, keywords=keywords,
        directory_filter=lambda path: not Path(path).name.startswith((".", "_")),
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def test_every_msgid_in_the_code_is_in_the_english_catalogue():
    known = {m.id[0] if isinstance(m.id, tuple) else m.id for m in _catalogue() if m.id}
    missing = sorted(_source_msgids() - known)
    assert not missing, f"run `make translations` and translate: {missing}"


def test_every_english_translation_is_filled_in_and_keeps_its_placeholders():
    catalogue = _catalogue()
    untranslated = [
        m.id for m in catalogue if m.id and (
            m.fuzzy or not (all(m.string) if isinstance(m.string, tuple) else m.string.strip()))
    ]
    assert not untranslated, f"translate in {CATALOGUE.relative_to(ROOT)}: {untranslated}"
    # python-format checks: a msgstr must use exactly the msgid's %(name)s placeholders.
    problems = [(m.id, [str(e) for e in errors]) for m, errors in catalogue.check()]
    assert not problems


def test_compiled_catalogue_is_current():
    compiled = CATALOGUE.with_suffix(".mo")
    expected = io.BytesIO()
    write_mo(expected, _catalogue())
    assert compiled.exists() and compiled.read_bytes() == expected.getvalue(), (
        "the .mo is missing or older than the .po: run `make compile-translations`")


def test_login_page_renders_in_english(client):
    client.get("/lang/en")
    page = client.get("/login").get_data(as_text=True)
    assert '<html lang="en">' in page
    for english in ("Sign in", "Username", "Password", "Juanzong Archive Management"):
        assert english in page
    for chinese in ("登录", "用户名", "密码", "档案管理"):
        assert chinese not in page


def test_chinese_is_the_default_and_switching_back_works(client):
    assert "用户名" in client.get("/login").get_data(as_text=True)
    client.get("/lang/en")
    assert "Username" in client.get("/login").get_data(as_text=True)
    client.get("/lang/zh_CN")
    page = client.get("/login").get_data(as_text=True)
    assert "用户名" in page and "Username" not in page


@pytest.mark.parametrize("lang, expected", [("zh_CN", "已退出登录"), ("en", "You have signed out.")])
def test_flash_messages_follow_the_language(login_as, lang, expected):
    client = login_as("officer")
    client.get(f"/lang/{lang}")
    response = client.post("/logout", follow_redirects=True)
    assert expected in response.get_data(as_text=True)
