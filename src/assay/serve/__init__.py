"""``assay serve``: a FastAPI app with the live report, a JSON API (OpenAPI at /docs) and an
arena page where people vote between two anonymous answers (votes become battles)."""

from ._app import create_app, run

__all__ = ["create_app", "run"]
