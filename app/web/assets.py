"""The NHS.UK frontend's built CSS, JS and images, and the app's own small static files.

``nhsuk-frontend`` is installed from npm by ``scripts/bootstrap`` into ``node_modules`` (not
committed).  Its ``dist/nhsuk`` folder is served under ``/assets``: the versioned CSS and JS
(``/assets/nhsuk-frontend-10.6.1.min.css``) are cached for a year as immutable, the images the
CSS points at (``/assets/images/...``) for a day.  The app's own files (``app/static``) are
served under ``/static``.

Without ``node_modules`` the app still runs: pages are plain, unstyled HTML that works, and a
warning in the log says how to get the styles.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, FastAPI, HTTPException
from fastapi.responses import FileResponse

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
FRONTEND_PACKAGE = PROJECT_ROOT / "node_modules" / "nhsuk-frontend"
STATIC_FOLDER = Path(__file__).resolve().parent.parent / "static"
SERVED_SUFFIXES = {".css", ".js", ".map", ".svg", ".png", ".ico", ".json", ".woff", ".woff2"}
YEAR_IMMUTABLE = "public, max-age=31536000, immutable"
ONE_DAY = "public, max-age=86400"
ONE_HOUR = "public, max-age=3600"


@dataclass(frozen=True)
class FrontendAssets:
    """Where the built ``nhsuk-frontend`` is, its version, and the URLs pages link to."""

    dist: Path
    version: str | None

    @property
    def available(self) -> bool:
        return self.version is not None

    @property
    def css_url(self) -> str | None:
        return f"/assets/nhsuk-frontend-{self.version}.min.css" if self.version else None

    @property
    def js_url(self) -> str | None:
        return f"/assets/nhsuk-frontend-{self.version}.min.js" if self.version else None


def find_frontend(package: Path | None = None) -> FrontendAssets:
    """Read ``package``'s version; ``version`` is ``None`` when it is not installed."""
    package = package or FRONTEND_PACKAGE
    dist = package / "dist" / "nhsuk"
    try:
        version = str(json.loads((package / "package.json").read_text("utf-8"))["version"])
    except (OSError, ValueError, KeyError, TypeError):
        return FrontendAssets(dist, None)
    if not (dist / f"nhsuk-frontend-{version}.min.css").is_file():
        return FrontendAssets(dist, None)
    return FrontendAssets(dist, version)


def _inside(folder: Path, relative: str) -> Path | None:
    """``folder / relative`` if it is a servable file inside ``folder``, else ``None``."""
    if not relative or "\\" in relative or relative.startswith("/"):
        return None
    candidate = (folder / relative).resolve()
    try:
        candidate.relative_to(folder.resolve())
    except ValueError:
        return None
    if candidate.suffix not in SERVED_SUFFIXES or not candidate.is_file():
        return None
    return candidate


def _file(path: Path | None, cache_control: str) -> FileResponse:
    if path is None:
        raise HTTPException(status_code=404, detail="no such file")
    return FileResponse(path, headers={"Cache-Control": cache_control})


def assets_router(frontend: FrontendAssets, static_folder: Path = STATIC_FOLDER) -> APIRouter:
    """Routes for ``/assets/...`` (the NHS.UK frontend) and ``/static/...`` (the app's own)."""
    router = APIRouter(include_in_schema=False)

    @router.get("/assets/{path:path}")
    def frontend_file(path: str) -> FileResponse:
        if not frontend.available:
            raise HTTPException(status_code=404, detail="nhsuk-frontend is not installed")
        if "/" not in path and path.startswith(f"nhsuk-frontend-{frontend.version}."):
            return _file(_inside(frontend.dist, path), YEAR_IMMUTABLE)
        return _file(_inside(frontend.dist / "assets", path), ONE_DAY)

    @router.get("/static/{path:path}")
    def static_file(path: str) -> FileResponse:
        return _file(_inside(static_folder, path), ONE_HOUR)

    return router


def install_assets(app: FastAPI, frontend: FrontendAssets | None = None) -> FrontendAssets:
    """Serve the assets from ``app``; the templates are told their URLs by ``create_app``."""
    frontend = frontend or find_frontend()
    if not frontend.available:
        logger.warning(
            "nhsuk-frontend is not installed under %s: pages are served without the NHS.UK "
            "styles. Run scripts/bootstrap (or `npm ci`) to install it.",
            frontend.dist,
        )
    app.include_router(assets_router(frontend))
    return frontend
