"""The web face: FastAPI app with server-rendered pages (Jinja2 + HTMX + ECharts) and ``/api/v1``."""

from groupops.web.app import create_app

__all__ = ["create_app"]
