"""The API tokens page in a real browser: a coordinator makes a token (shown once), sees it
listed by its first characters, revokes it; WCAG 2.2 AA (axe) at 1280 and 320 px."""

from __future__ import annotations

import re
from typing import Any

from tests.browser_support import (
    LiveServer,
    axe_violations,
    describe_violations,
    screenshot,
)

TOKEN = re.compile(r"tsp_[A-Za-z0-9_-]{43}")


def test_a_coordinator_makes_and_revokes_a_token(chromium: Any, live_server: LiveServer) -> None:
    context = chromium.new_context(bypass_csp=True)  # for axe-core
    page = context.new_page()
    page.goto(live_server.base_url + "/sign-in")
    page.fill("#email", live_server.coordinator_email)
    page.fill("#password", live_server.coordinator_password)
    page.click("button[type=submit]")
    page.wait_for_url("**/coordinator")
    page.click("text=Your account")
    page.wait_for_url("**/account")
    page.click("text=API tokens")
    page.wait_for_url("**/account/tokens")
    page.fill("#name", "")
    page.click("button:has-text('Make a token')")
    assert "1 to 100 characters" in page.inner_text("main")
    page.fill("#name", "weekly export")
    page.click("button:has-text('Make a token')")
    shown = TOKEN.findall(page.inner_text("main"))
    assert len(set(shown)) == 1
    for width, height in ((1280, 900), (320, 800)):
        page.set_viewport_size({"width": width, "height": height})
        screenshot(page, f"account-tokens-made-{width}")
        violations = axe_violations(page)
        assert violations == [], describe_violations(violations)
        scroll = page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= width, f"the page scrolls sideways at {width} px"
    page.goto(live_server.base_url + "/account/tokens")
    assert not TOKEN.search(page.inner_text("main"))  # never shown again
    assert "weekly export" in page.inner_text("main")
    page.click("button:has-text('Revoke')")
    page.wait_for_url("**/account/tokens")
    assert "Revoked" in page.inner_text("main")
    screenshot(page, "account-tokens-revoked-320")
    context.close()
