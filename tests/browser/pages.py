"""What the browser tests share: signing in as a demo user, and full-page screenshots
kept under tests/artifacts (look at them)."""

from pathlib import Path

from tests.conftest import PASSWORDS

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


def sign_in(page, server, username):
    page.context.clear_cookies()
    page.goto(server + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORDS[username])
    page.click("button[type=submit]")
    page.wait_for_url(server + "/")


def shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 5_000
