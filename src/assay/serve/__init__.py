"""``assay serve``: a FastAPI app with the live report, a JSON API (OpenAPI at /docs) and an
arena page where people vote between two anonymous answers (votes become battles)."""

from ._app import create_app, run
from ._guard import RateLimit, host_name, is_loopback

__all__ = ["RateLimit", "create_app", "host_name", "is_loopback", "run"]
