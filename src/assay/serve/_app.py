"""The FastAPI app behind ``assay serve``: the live report, the arena page and the JSON API."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import jinja2
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response

from assay.errors import AssayError
from assay.report import environment as report_environment
from assay.report import render_report

from ._api import router
from ._state import AppState, NotFound, StoreMissing


@cache
def environment() -> jinja2.Environment:
    """The report's Jinja2 environment plus this package's templates."""
    base = report_environment()
    env = base.overlay(
        loader=jinja2.ChoiceLoader([jinja2.PackageLoader("assay.serve", "templates"), base.loader])
    )
    return env


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api") and request.url.path != "/openapi.json"


def _error(request: Request, status: int, message: str) -> Response:
    if _wants_html(request):
        html = (
            environment()
            .get_template("error.html.j2")
            .render(status=status, message=message, live=True, page="error")
        )
        return HTMLResponse(html, status_code=status)
    return JSONResponse({"detail": message}, status_code=status)


def create_app(
    store: str | Path,
    *,
    token: str | None = None,
    seed: int = 0,
    report_bootstrap: int = 20,
) -> FastAPI:
    """The app serving ``store``. ``token`` (if given) guards every write endpoint;
    ``seed`` drives the arena's pair draws and the bootstrap intervals."""
    app = FastAPI(
        title="assay",
        summary="Live leaderboard, pairwise tests, answers and arena voting from an assay store.",
        version="1",
    )
    app.state.assay = AppState(
        Path(store), token=token or None, seed=seed, report_bootstrap=report_bootstrap
    )
    app.include_router(router)

    @app.exception_handler(StoreMissing)
    async def _missing(request: Request, exc: StoreMissing) -> Response:
        return _error(request, 404, str(exc))

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> Response:
        return _error(request, 404, str(exc))

    @app.exception_handler(AssayError)
    async def _bad(request: Request, exc: AssayError) -> Response:
        return _error(request, 400, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        if _wants_html(request):
            first = exc.errors()[0] if exc.errors() else {}
            where = ".".join(str(x) for x in first.get("loc", ()))
            return _error(request, 422, f"invalid input {where}: {first.get('msg', '')}")
        return JSONResponse({"detail": jsonable_errors(exc)}, status_code=422)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def report_page(request: Request) -> HTMLResponse:
        data = request.app.state.assay.report()
        return HTMLResponse(render_report(data, live=True))

    @app.get("/arena", response_class=HTMLResponse, include_in_schema=False)
    def arena_page(request: Request) -> HTMLResponse:
        state: AppState = request.app.state.assay
        state.store()  # a clear page when the store is missing
        html = (
            environment()
            .get_template("arena.html.j2")
            .render(
                live=True,
                page="arena",
                needs_token=bool(state.token),
                store_path=str(state.store_path),
            )
        )
        return HTMLResponse(html)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def jsonable_errors(exc: RequestValidationError) -> list[dict[str, object]]:
    """Validation errors without the raw input (which may not be JSON-serialisable)."""
    return [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")}
        for e in exc.errors()
    ]


def run(
    store: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    token: str | None = None,
    seed: int = 0,
) -> None:
    """Serve the app with uvicorn (blocking)."""
    import uvicorn

    uvicorn.run(create_app(store, token=token, seed=seed), host=host, port=port, log_level="info")
