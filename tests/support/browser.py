"""Playwright driving Debian's Chromium (Playwright's own browser download does not work on
these machines): ``/usr/bin/chromium``, or CHROMIUM_PATH. Registered as a plugin by
tests/conftest.py, so every test module shares the one browser of the session; ``sign_in``
signs a new member in through the login page."""

import os
import shutil
from pathlib import Path

import pytest

from tests.support import PASSWORD

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-results"


def _chromium() -> str:
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail("Chromium is missing: `make test` installs Debian's chromium package.")
    return path


@pytest.fixture(scope="session")
def browser():
    # Playwright's sync API runs an event loop; Django refuses sync DB calls from inside one
    # unless told this is deliberate (the test body is plain synchronous code).
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=_chromium(),
            args=[
                "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def artifacts():
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def sign_in(page, base_url: str, organization, make_user, *, role: str = "finance"):
    """A new member of ``organization`` with ``role`` signs in through the login page;
    returns the user once the dashboard shows."""
    from zenskar.tenancy.services import membership_upsert

    user = make_user(f"{role}@acme.test", password=PASSWORD)
    membership_upsert(organization=organization, email=user.email, role=role, actor_role=None)
    page.goto(f"{base_url}/login/")
    page.fill("#id_username", user.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("h1")
    return user


# A phone's window (an iPhone 12 to 15).
PHONE = {"width": 390, "height": 844}

# The page's width and the window's, and (to say what is wrong when they differ) the first
# elements that reach past the window's right edge outside a box that scrolls or clips them.
MEASURE = """() => {
  const width = window.innerWidth;
  const clipped = (node) => {
    for (let box = node.parentElement; box; box = box.parentElement) {
      if (getComputedStyle(box).overflowX !== "visible") return true;
    }
    return false;
  };
  const wide = [...document.body.querySelectorAll("*")]
    .filter((node) => node.getBoundingClientRect().right > width + 0.5 && !clipped(node))
    .slice(0, 8)
    .map((node) => `${node.tagName.toLowerCase()}.${node.className} ` +
                   `${Math.round(node.getBoundingClientRect().right)}px`);
  return {page: document.documentElement.scrollWidth, window: width, too_wide: wide};
}"""


def fits(page, name: str = "the page") -> None:
    """The page scrolls up and down only: it is no wider than the window (wide tables scroll
    in their own box); else the assertion names the elements that reach past its edge."""
    measured = page.evaluate(MEASURE)
    assert measured["page"] <= measured["window"], f"{name} scrolls sideways: {measured}"
