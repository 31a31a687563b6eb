"""Static files of the web UI (web/ui) and of the npm packages it and the API docs use
(web/node_modules, installed by `make install` from web/package-lock.json)."""

from __future__ import annotations

import os
from pathlib import Path

from litestar.openapi.plugins import SwaggerRenderPlugin, YamlRenderPlugin
from litestar.static_files import create_static_files_router

from api.config import REPO_ROOT

# ESS_WEB_DIR: where an installed package (the Docker image) keeps web/
WEB = Path(os.environ.get("ESS_WEB_DIR") or REPO_ROOT / "web")
PACKAGES = WEB / "node_modules"
UI_PATH = "/ui"
SWAGGER_ASSETS = f"{UI_PATH}/vendor/swagger-ui"
# served from the npm packages: URL path -> folder
VENDOR = {
    f"{UI_PATH}/vendor/uplot": PACKAGES / "uplot" / "dist",
    SWAGGER_ASSETS: PACKAGES / "swagger-ui-dist",
}


class FrontEndMissing(RuntimeError):
    """web/node_modules is not installed."""


def static_routers() -> list:
    missing = [str(folder) for folder in VENDOR.values() if not folder.is_dir()]
    if missing:
        raise FrontEndMissing(
            f"front-end packages missing ({', '.join(missing)}): run `make install` "
            "(npm ci in web/)"
        )
    return [
        create_static_files_router(path=UI_PATH, directories=[WEB / "ui"], html_mode=True),
        *(create_static_files_router(path=path, directories=[d]) for path, d in VENDOR.items()),
    ]


def openapi_viewers() -> list:
    """Swagger UI only, at /schema and /schema/swagger: it draws every operation and its
    "Try it out" sends the bearer token; the JSON and YAML documents stay where they were."""
    return [
        SwaggerRenderPlugin(
            path=["/", "/swagger"],
            js_url=f"{SWAGGER_ASSETS}/swagger-ui-bundle.js",
            css_url=f"{SWAGGER_ASSETS}/swagger-ui.css",
            standalone_preset_js_url=f"{SWAGGER_ASSETS}/swagger-ui-standalone-preset.js",
            favicon=f"<link rel='icon' type='image/png' href='{SWAGGER_ASSETS}/favicon-32x32.png'>",
        ),
        YamlRenderPlugin(path=["/openapi.yaml", "/openapi.yml"]),
    ]
