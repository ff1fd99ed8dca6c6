"""What every page does once, done without waste (issue 14, "Capacity under load")."""

import flask_babel
from babel import Locale
from flask import session

from archive import LOCALES


def test_the_language_of_a_page_is_a_locale_parsed_once(app):
    for chosen, shown in ((None, "zh_CN"), ("en", "en"), ("zh_CN", "zh_CN"), ("fr", "zh_CN")):
        with app.test_request_context("/"):
            if chosen:
                session["lang"] = chosen
            flask_babel.refresh()
            assert flask_babel.get_locale() is LOCALES[shown], chosen
            assert flask_babel.get_locale() == Locale.parse(shown)
