"""What the browser tests share: signing in as a demo user, and full-page screenshots
kept under tests/artifacts (look at them)."""

from pathlib import Path

from tests.conftest import PASSWORDS

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


def sign_in(page, server, username):
    page.goto("about:blank")  # nothing of the last page may still be loading
    page.context.clear_cookies()
    response = page.goto(server + "/login")
    if not page.locator("input[name=username]").count():
        # Say what came instead of the form, rather than a bare 30 s fill timeout.
        shot(page, f"sign_in_{username}_refused")
        raise AssertionError(
            f"/login as {username}: {response.status if response else None} at {page.url}: "
            f"{page.inner_text('body')[:400]!r}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORDS[username])
    page.click("button[type=submit]")
    page.wait_for_url(server + "/")


def shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 5_000
