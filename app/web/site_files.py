"""The files every site is asked for, and the API's documentation page.

* ``/favicon.ico``: the NHS.UK frontend's icon (browsers ask for it whatever the page says);
* ``/robots.txt``: nothing may be indexed: respondents' links are secrets in the path;
* ``/api/docs``: Swagger UI from the ``swagger-ui-dist`` npm package (installed with the
  NHS.UK frontend by ``scripts/bootstrap``), served by the app itself, so that it works where a
  proxy blocks CDNs and needs no exception to the Content-Security-Policy: its start-up script
  is a file of the app's (``app/static/api-docs.js``), not an inline script.
"""

from __future__ import annotations

import html
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse

from app.web.assets import ONE_DAY, PROJECT_ROOT, FrontendAssets

logger = logging.getLogger(__name__)

SWAGGER_UI_PACKAGE = PROJECT_ROOT / "node_modules" / "swagger-ui-dist"
SWAGGER_UI_FILES = {
    "swagger-ui.css": "text/css",
    "swagger-ui-bundle.js": "text/javascript",
    "favicon-32x32.png": "image/png",
}
ROBOTS = "# Survey links are private: nothing here is to be indexed.\nUser-agent: *\nDisallow: /\n"


@dataclass(frozen=True)
class SwaggerUi:
    """Where ``swagger-ui-dist`` is and its version (``None`` when it is not installed)."""

    folder: Path
    version: str | None


def find_swagger_ui(package: Path | None = None) -> SwaggerUi:
    package = package or SWAGGER_UI_PACKAGE
    try:
        version = str(json.loads((package / "package.json").read_text("utf-8"))["version"])
    except (OSError, ValueError, KeyError, TypeError):
        return SwaggerUi(package, None)
    if not all((package / name).is_file() for name in SWAGGER_UI_FILES):
        return SwaggerUi(package, None)
    return SwaggerUi(package, version)


def docs_page(title: str, openapi_url: str, swagger: SwaggerUi) -> str:
    """The Swagger UI page: its CSS and JS from the app, started by a script of the app's."""
    prefix = f"/api/docs/swagger-ui-{swagger.version}"
    return f"""<!DOCTYPE html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>{html.escape(title)} – API documentation</title>
<link rel="icon" href="{prefix}/favicon-32x32.png">
<link rel="stylesheet" href="{prefix}/swagger-ui.css">
</head>
<body>
<main id="swagger-ui" data-openapi-url="{html.escape(openapi_url)}"></main>
<script src="{prefix}/swagger-ui-bundle.js"></script>
<script src="/static/api-docs.js"></script>
</body>
</html>
"""


def site_files_router(
    frontend: FrontendAssets, title: str, openapi_url: str, swagger: SwaggerUi | None = None
) -> APIRouter:
    swagger = swagger or find_swagger_ui()
    if swagger.version is None:
        logger.warning(
            "swagger-ui-dist is not installed under %s: /api/docs says how to get it. Run "
            "scripts/bootstrap (or `npm ci`).",
            swagger.folder,
        )
    router = APIRouter(include_in_schema=False)

    @router.get("/favicon.ico")
    def favicon() -> FileResponse:
        icon = frontend.dist / "assets" / "images" / "favicon.ico"
        if not frontend.available or not icon.is_file():
            raise HTTPException(status_code=404, detail="no such file")
        return FileResponse(icon, media_type="image/x-icon", headers={"Cache-Control": ONE_DAY})

    @router.get("/robots.txt")
    def robots() -> PlainTextResponse:
        return PlainTextResponse(ROBOTS, headers={"Cache-Control": ONE_DAY})

    @router.get("/api/docs")
    def api_docs() -> HTMLResponse:
        if swagger.version is None:
            return HTMLResponse(
                "<!DOCTYPE html><html lang='en-GB'><title>API documentation</title>"
                "<p>Swagger UI is not installed: run scripts/bootstrap. The API's description "
                f"is at <a href='{html.escape(openapi_url)}'>{html.escape(openapi_url)}</a>.",
                status_code=503,
            )
        return HTMLResponse(docs_page(title, openapi_url, swagger))

    @router.get("/api/docs/{versioned}/{name}")
    def swagger_file(versioned: str, name: str) -> FileResponse:
        if versioned != f"swagger-ui-{swagger.version}" or name not in SWAGGER_UI_FILES:
            raise HTTPException(status_code=404, detail="no such file")
        return FileResponse(
            swagger.folder / name,
            media_type=SWAGGER_UI_FILES[name],
            headers={"Cache-Control": "public, max-age=31536000, immutable"},
        )

    return router
