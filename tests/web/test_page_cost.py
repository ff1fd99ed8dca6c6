"""What every page does once, done without waste (issue 14, "Capacity under load")."""

import re

import flask_babel
import jinja2.ext
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


def test_a_render_takes_the_catalogue_once_and_translates_and_links_as_flask_does(
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
    # Jinja's own `_` (an alias of the gettext just installed) and Flask's own url_for.
    app.jinja_env.globals["_"] = jinja2.ext._gettext_alias
    app.jinja_env.globals["url_for"] = app.url_for
    # (the compiled pages pass the filter its context: the filter's form is fixed)
    app.jinja_env.filters["label"] = pass_context(lambda _context, value: vocabulary.label(value))
    del lookups[:]

    assert _pages(client, urls) == ours
    assert len(lookups) / len(ours) > 20  # Flask-Babel's: once per string
    assert "Customers" in ours[len(urls)] and "客户" in ours[0]


def test_a_search_page_names_its_hits_levels_from_the_render_catalogue(
        make_customer, make_dossier, file_doc, login_as, monkeypatch):
    """A level's name is read from the catalogue the render took, not through a lazy label
    that walks Flask-Babel's context again for every hit."""
    one = make_dossier(make_customer("单件客户", code="KH-T-S1"), room="101")
    many = make_dossier(make_customer("多件客户", code="KH-T-S2"), room="102")
    file_doc(one, "独件档案", "销售")
    for i in range(6):
        file_doc(many, f"多件档案{i}", "销售", classification="秘密" if i % 2 else "内部")
    client = login_as("officer")
    lookups = []
    real = flask_babel.Domain.get_translations
    monkeypatch.setattr(flask_babel.Domain, "get_translations",
                        lambda self: lookups.append(1) or real(self))

    def cost(url: str) -> tuple[int, int]:
        client.get(url)
        del lookups[:]
        page = client.get(url).get_data(as_text=True)
        return page.count('class="hit-title"'), len(lookups)

    (hits_one, one_hit), (hits_six, six_hits) = cost("/search?q=独件档案"), cost("/search?q=多件档案")
    assert (hits_one, hits_six) == (1, 6)
    assert one_hit == six_hits
