"""What every page does once, done without waste (issue 14, "Capacity under load")."""

import re

import flask_babel
from babel import Locale
from flask import session
from jinja2 import pass_context

from archive import LOCALES
from archive.web import vocabulary

CSRF = re.compile(r'name="csrf_token" value="[^"]+"')


def test_the_language_of_a_page_is_a_locale_parsed_once(app):
    for chosen, shown in ((None, "zh_CN"), ("en", "en"), ("zh_CN", "zh_CN"), ("fr", "zh_CN")):
        with app.test_request_context("/"):
            if chosen:
                session["lang"] = chosen
            flask_babel.refresh()
            assert flask_babel.get_locale() is LOCALES[shown], chosen
            assert flask_babel.get_locale() == Locale.parse(shown)


def _pages(client, urls):
    shown = []
    for lang in ("zh_CN", "en"):
        client.get(f"/lang/{lang}")
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, url
            shown.append(CSRF.sub("", response.get_data(as_text=True)))
    return shown


def test_a_render_takes_the_catalogue_once_and_translates_as_flask_babel_does(
        app, make_customer, make_dossier, file_doc, login_as, monkeypatch):
    dossier = make_dossier(make_customer("张伟", code="KH-T-1"))
    document = file_doc(dossier, "认购书", "销售")
    client = login_as("officer")
    urls = ["/customers", f"/dossiers/{dossier.id}", f"/documents/{document.id}",
            "/search?q=认购书", f"/dossiers/{dossier.id}/index"]
    lookups = []
    real = flask_babel.get_translations
    monkeypatch.setattr(flask_babel, "get_translations",
                        lambda: lookups.append(1) or real())

    ours = _pages(client, urls)
    assert len(lookups) / len(ours) < 5  # once per render (the page and its error-free parts)
    # Flask-Babel's own callables: one lookup per string.
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: flask_babel.get_translations().ugettext(s),
        ngettext=lambda s, p, n: flask_babel.get_translations().ungettext(s, p, n),
        newstyle=True)
    # (the compiled pages pass the filter its context: the filter's form is fixed)
    app.jinja_env.filters["label"] = pass_context(lambda _context, value: vocabulary.label(value))
    del lookups[:]

    assert _pages(client, urls) == ours
    assert len(lookups) / len(ours) > 20  # Flask-Babel's: once per string
    assert "Customers" in ours[len(urls)] and "客户" in ours[0]
