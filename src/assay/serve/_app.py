"""The FastAPI app behind ``assay serve``: the live report, the arena page and the JSON API."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response

from assay.errors import AssayError, StoreMissing
from assay.report import environment as report_environment
from assay.report import render_report

from ._api import router, take_token
from ._docs import api_operations
from ._guard import (
    BASELINE_LIMIT,
    MAX_BODY,
    NONCE_KEY,
    READ_LIMIT,
    Guard,
    HostPolicy,
    RateLimit,
    is_api,
    is_loopback,
)
from ._state import AppState, NotFound


class _App(FastAPI):
    """FastAPI with :class:`Guard` outermost: Host and cross-site checks, the read budget,
    body limit and headers apply to every response, errors included."""

    def build_middleware_stack(self) -> Any:
        hosts, max_body, reads = self.state.guard
        return Guard(super().build_middleware_stack(), hosts, max_body, reads)


@cache
def environment() -> jinja2.Environment:
    """The report's Jinja2 environment plus this package's templates."""
    base = report_environment()
    env = base.overlay(
        loader=jinja2.ChoiceLoader([jinja2.PackageLoader("assay.serve", "templates"), base.loader])
    )
    return env


def _wants_html(request: Request) -> bool:
    return not is_api(request.url.path)


def _nonce(request: Request) -> str:
    """This response's CSP nonce (set by :class:`Guard`)."""
    return str(request.scope.get(NONCE_KEY, ""))


def _page_token(request: Request, state: AppState) -> str | None:
    """The write token for the arena page: only when the server is exposed beyond loopback
    (a token is then required) and the page goes to a loopback client (its operator)."""
    client = request.client.host if request.client else ""
    return state.token if state.exposed and is_loopback(client) else None


def _page(request: Request, template: str, **context: Any) -> str:
    """A page of this app, rendered in the sandbox with this response's nonce."""
    page = template.split(".", 1)[0]
    return (
        environment()
        .get_template(template)
        .render(live=True, page=page, csp_nonce=_nonce(request), **context)
    )


def _error(request: Request, status: int, message: str) -> Response:
    if _wants_html(request):
        html = _page(request, "error.html.j2", status=status, message=message)
        return HTMLResponse(html, status_code=status)
    return JSONResponse({"detail": message}, status_code=status)


def create_app(
    store: str | Path,
    *,
    token: str | None = None,
    seed: int = 0,
    report_bootstrap: int = 20,
    host: str = "127.0.0.1",
    port: int | None = None,
    allowed_hosts: Iterable[str] = (),
    rate: RateLimit | None = None,
    max_body: int = MAX_BODY,
    read_rate: RateLimit | None = None,
    baseline_rate: RateLimit | None = None,
) -> FastAPI:
    """The app serving ``store``, as bound to ``host``:``port`` (any port when None).

    Only requests whose Host header names a loopback address, ``host`` or one of
    ``allowed_hosts`` are answered (400 otherwise: no DNS rebinding). ``token`` guards every
    write; one is generated when ``host`` is not loopback (read it from
    ``app.state.assay.token``). Requests from other sites' pages get 403. Every request is
    limited by ``read_rate`` per client (default 600 a minute, 120 at once), writes and pair
    draws also by ``rate``, the report against a baseline by ``baseline_rate`` (12 a minute, 6
    at once); bodies to ``max_body`` bytes (413). ``seed`` drives the arena's draws and the
    bootstraps."""
    exposed = not is_loopback(host)
    if exposed and not token:
        token = secrets.token_urlsafe(24)
    app = _App(
        title="assay",
        summary="Live leaderboard, pairwise tests, answers and arena voting from an assay store.",
        version="1",
        docs_url=None,
        redoc_url=None,
    )
    app.state.guard = (
        HostPolicy.build(host, port, allowed_hosts),
        max_body,
        read_rate or RateLimit(*READ_LIMIT),
    )
    app.state.assay = AppState(
        Path(store),
        token=token or None,
        seed=seed,
        report_bootstrap=report_bootstrap,
        rate=rate or RateLimit(),
        exposed=exposed,
        baseline_rate=baseline_rate or RateLimit(*BASELINE_LIMIT),
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
    def report_page(request: Request, baseline: str | None = None) -> HTMLResponse:
        state: AppState = request.app.state.assay
        if baseline:  # costly when not cached: a bucket of its own
            take_token(request, state.baseline_rate, " baseline", "reports against a baseline")
        data = state.report(baseline or None)
        return HTMLResponse(render_report(data, live=True, nonce=_nonce(request)))

    @app.get("/arena", response_class=HTMLResponse, include_in_schema=False)
    def arena_page(request: Request) -> HTMLResponse:
        state: AppState = request.app.state.assay
        state.store()  # a clear page when the store is missing
        html = _page(
            request,
            "arena.html.j2",
            needs_token=bool(state.token),
            config={"token": _page_token(request, state)},
            store_path=str(state.store_path),
        )
        return HTMLResponse(html)

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    def docs_page(request: Request) -> HTMLResponse:
        ops = api_operations(request.app.openapi())
        return HTMLResponse(_page(request, "docs.html.j2", operations=ops))

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


def server_config(app: FastAPI, *, host: str, port: int, **options: Any) -> Any:
    """The uvicorn configuration serving ``app``: proxy headers off, so a client cannot pick
    its address with ``X-Forwarded-For`` (uvicorn trusts it from loopback by default), which
    would give it a fresh rate-limit bucket per request and change the loopback decision
    behind the arena page's token. ``options``: more uvicorn settings."""
    import uvicorn

    options = {"log_level": "info", **options, "proxy_headers": False, "forwarded_allow_ips": ""}
    return uvicorn.Config(app, host=host, port=port, **options)


def run(
    store: str | Path | FastAPI,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    token: str | None = None,
    seed: int = 0,
    allowed_hosts: Iterable[str] = (),
) -> None:
    """Serve the app (or the app over ``store``) with uvicorn (blocking)."""
    import uvicorn

    app = (
        store
        if isinstance(store, FastAPI)
        else create_app(
            store, token=token, seed=seed, host=host, port=port, allowed_hosts=allowed_hosts
        )
    )
    uvicorn.Server(server_config(app, host=host, port=port)).run()
