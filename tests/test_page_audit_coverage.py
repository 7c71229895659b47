"""Every HTML page of the app has an entry in the page audit (``tests/page_audit.py``): the
routes come from the app itself, as in the authorisation matrix.  A route that draws a page
but has no entry (nor a reason in ``NOT_PAGES``) fails, and so does an entry for a route that
is gone."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.page_audit import NOT_PAGES, PAGES, ROLES, covered_routes
from tests.test_authorisation_support import app_routes


def _page_routes(client: TestClient) -> set[tuple[str, str]]:
    """The app's routes outside the JSON API."""
    routes = set(app_routes(client.app))  # type: ignore[arg-type]
    return {(method, path) for method, path in routes if not path.startswith("/api/v1/")}


def test_every_page_route_has_an_audit_entry(client: TestClient) -> None:
    routes = _page_routes(client)
    missing = routes - covered_routes() - set(NOT_PAGES)
    assert missing == set(), "pages with no entry in tests/page_audit.py"


def test_no_audit_entry_names_a_route_that_is_gone(client: TestClient) -> None:
    routes = _page_routes(client)
    assert covered_routes() - routes == set(), "audit entries for routes that are gone"
    assert set(NOT_PAGES) - routes == set(), "NOT_PAGES names routes that are gone"
    assert covered_routes() & set(NOT_PAGES) == set(), "a route both audited and not a page"


def test_every_role_has_pages_and_every_state_a_name_of_its_own() -> None:
    assert {page.role for page in PAGES} == set(ROLES)
    seen = set()
    for page in PAGES:
        assert page.states, page.name
        for state in page.states:
            key = (page.role, page.name, state.name)
            assert key not in seen, f"two states named {key}"
            seen.add(key)
