"""Redirects after a form post, and the only places a sign-in may send someone next."""

from __future__ import annotations

from fastapi import status
from fastapi.responses import RedirectResponse


def see_other(url: str) -> RedirectResponse:
    """303 See Other: after a POST, the browser GETs ``url``."""
    return RedirectResponse(url, status_code=status.HTTP_303_SEE_OTHER)


def safe_next(next_path: str, allowed: tuple[str, ...], default: str) -> str:
    """``next_path`` if it is a path of this site under one of ``allowed``, else ``default``.

    Refuses anything that could leave the site (``//host``, backslashes) so that a sign-in link
    cannot be used as an open redirect.
    """
    if next_path.startswith(allowed) and "//" not in next_path and "\\" not in next_path:
        return next_path
    return default
