"""The JSON API: leaderboard, pairs, samples, battles, models, ratings and arena voting."""

from __future__ import annotations

import secrets
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from assay import rank
from assay.core import to_jsonable
from assay.report import COMPARE_METHOD, compare_scores
from assay.store import WINNERS, Evidence

from ._guard import RateLimit, too_many
from ._state import AppState

Name = Annotated[str, Field(min_length=1, max_length=200)]
Winner = Literal[WINNERS]  # type: ignore[valid-type]
TaskQuery = Annotated[str | None, Query(min_length=1, max_length=200, description="Task name.")]
ModelQuery = Annotated[str | None, Query(min_length=1, max_length=200, description="Model name.")]
MetricQuery = Annotated[
    str | None, Query(min_length=1, max_length=200, description="Metric (default: headline).")
]
FeatureName = Annotated[str, Field(min_length=1, max_length=100)]
FeatureValue = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Limit = Annotated[int, Query(ge=1, le=1000, description="Rows to return.")]
Offset = Annotated[int, Query(ge=0, le=10_000_000, description="Rows to skip.")]


class Vote(BaseModel):
    """A vote on an arena pair drawn by ``GET /api/arena/pair``."""

    model_config = ConfigDict(extra="forbid")
    pair_id: Annotated[str, Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
    winner: Winner


class BattleIn(BaseModel):
    """A pairwise judgment to store (both models must be known to the store)."""

    model_config = ConfigDict(extra="forbid")
    model_a: Name
    model_b: Name
    winner: Winner
    prompt_id: Annotated[str | None, Field(max_length=500)] = None
    judge: Annotated[str | None, Field(max_length=200)] = None
    # optional: the two answers' text or their style features (feature -> count); the store
    # keeps the features (assay.core.style_json), never the text
    answer_a: Annotated[str | None, Field(max_length=200_000)] = None
    answer_b: Annotated[str | None, Field(max_length=200_000)] = None
    style_a: Annotated[dict[FeatureName, FeatureValue] | None, Field(max_length=32)] = None
    style_b: Annotated[dict[FeatureName, FeatureValue] | None, Field(max_length=32)] = None


def state(request: Request) -> AppState:
    return request.app.state.assay


def require_token(
    request: Request,
    x_assay_token: Annotated[str | None, Header(max_length=500)] = None,
    authorization: Annotated[str | None, Header(max_length=500)] = None,
) -> None:
    """Write endpoints: when the app has a token, the request must carry it
    (``X-Assay-Token: T`` or ``Authorization: Bearer T``)."""
    expected = request.app.state.assay.token
    if not expected:
        return
    given = x_assay_token or (authorization or "").removeprefix("Bearer ").strip()
    if not given or not secrets.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(401, "this server needs a token for writes: send X-Assay-Token")


def limit_writes(request: Request) -> None:
    """Write endpoints: a token bucket per client address (429 with Retry-After when empty)."""
    take_token(request, request.app.state.assay.rate, "", "writes")


def take_token(request: Request, limiter: RateLimit, bucket: str, what: str) -> None:
    """One token from this client's ``bucket`` (a suffix of its address) of ``limiter``, else
    429 with Retry-After: the one rate check behind every endpoint with a bucket of its own
    (every request also spends one of the app's read budget, in :class:`Guard`). The address
    is the connection's: the server trusts no forwarded header (see ``server_config``)."""
    client = request.client.host if request.client else "unknown"
    wait = limiter.take(f"{client}{bucket}")
    if wait > 0:
        status, message, headers = too_many(what, wait)
        raise HTTPException(status, message, headers=headers)


def limit_draws(request: Request) -> None:
    """``/api/arena/pair``: drawing pairs is rate-limited like votes (its own bucket per
    client, the same rate), so a script cannot harvest the answers behind the arena."""
    take_token(request, request.app.state.assay.rate, " draws", "pair draws")


# other sites' requests (a foreign Origin, Sec-Fetch-Site cross-site) never get here: the
# Guard refuses them (403) before any bucket is spent, on every route
WRITE_GUARDS = [Depends(limit_writes), Depends(require_token)]
DRAW_GUARDS = [Depends(limit_draws)]
router = APIRouter(prefix="/api", tags=["api"])
AppDep = Annotated[AppState, Depends(state)]


def _evidence(app: AppState, task: str | None, metric: str | None) -> Evidence:
    """The store's evidence (scores with corpus metrics, its metric definitions)."""
    store = app.store()
    app.check_task(store, task)
    evidence = store.evidence(task=task, metric=metric)
    if metric is not None and evidence.scores.empty:
        raise HTTPException(404, f"no scores with metric {metric!r}")
    return evidence


@router.get("/info", summary="What is in the store")
def info(app: AppDep) -> dict[str, Any]:
    return to_jsonable(app.store().info())


@router.get("/leaderboard", summary="Scores with 95% intervals and significance groups")
def leaderboard(app: AppDep, task: TaskQuery = None, metric: MetricQuery = None) -> dict[str, Any]:
    evidence = _evidence(app, task, metric)
    if evidence.scores.empty:
        return {"scores": [], "groups": [], "method": None, "headline_metrics": {}}
    comp, headline = compare_scores(evidence.scores, metrics=evidence.metrics)
    return {
        "scores": to_jsonable(comp.scores),
        "groups": to_jsonable(comp.groups),
        "method": COMPARE_METHOD,
        "headline_metrics": headline,
    }


@router.get("/pairs", summary="Paired differences with corrected p-values")
def pairs(app: AppDep, task: TaskQuery = None, metric: MetricQuery = None) -> dict[str, Any]:
    evidence = _evidence(app, task, metric)
    if evidence.scores.empty:
        return {"pairs": []}
    comp = compare_scores(evidence.scores, metrics=evidence.metrics)[0]
    return {"pairs": to_jsonable(comp.pairs)}


@router.get("/samples", summary="Per-sample answers and metrics")
def samples(
    app: AppDep,
    model: ModelQuery = None,
    task: TaskQuery = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    store = app.store()
    app.check_model(store, model)
    app.check_task(store, task)
    rows = store.samples(model=model, task=task)
    return {"total": len(rows), "rows": to_jsonable(rows.iloc[offset : offset + limit])}


@router.get("/battles", summary="Stored pairwise votes")
def battles(app: AppDep, limit: Limit = 100, offset: Offset = 0) -> dict[str, Any]:
    rows = app.store().battles()
    return {"total": len(rows), "rows": to_jsonable(rows.iloc[offset : offset + limit])}


@router.post(
    "/battles",
    summary="Store a pairwise judgment (409 when the same vote is stored already)",
    dependencies=WRITE_GUARDS,
    responses={409: {"description": "the same vote is stored already"}},
)
def add_battle(app: AppDep, battle: BattleIn) -> dict[str, Any]:
    # names are compared and stored without surrounding spaces, as the importers store them
    names = {"model_a": battle.model_a.strip(), "model_b": battle.model_b.strip()}
    for field, name in names.items():
        if not name:
            raise HTTPException(422, f"{field} is empty")
    battle = battle.model_copy(update=names)
    store = app.store()
    app.check_model(store, battle.model_a)
    app.check_model(store, battle.model_b)
    if battle.model_a == battle.model_b:
        raise HTTPException(422, "model_a and model_b must differ")
    # one vote, one row: the id is the vote's content (assay.store.battle_id), as for a file
    # import; posting a vote already stored changes nothing and answers 409
    battle_id, stored = store.add_vote({**battle.model_dump(), "source": "api"})
    if not stored:
        raise HTTPException(409, f"this vote is stored already (battle {battle_id})")
    return {"battle_id": battle_id, **battle.model_dump()}


@router.get("/models", summary="Models and their metadata")
def models(app: AppDep) -> dict[str, Any]:
    return {"models": to_jsonable(app.store().models())}


@router.get("/ratings", summary="Arena ratings (Bradley–Terry, bootstrap 95% intervals)")
def ratings(app: AppDep) -> dict[str, Any]:
    """Ratings of each connected group of models (models never compared, directly or through
    others, share no scale: each group is rated on its own, largest first); ``ratings`` is
    the largest group's table."""
    b = app.store().battles()
    if b.empty:
        return {"ratings": [], "groups": [], "counts": [], "battles": 0}
    groups = rank.arena_groups(b, seed=app.seed)
    return {
        "ratings": to_jsonable(groups[0].table) if groups else [],
        "groups": [
            {
                "models": sorted(g.models),
                "battles": int(g.info.get("n_battles", 0)),
                "ratings": to_jsonable(g.table),
                "note": g.info.get("note"),  # too few votes: which intervals are unbounded
            }
            for g in groups
        ],
        "confidence_level": 0.95,
        "interval": groups[0].info.get("interval") if groups else None,
        "bootstrap_rounds": int(groups[0].bootstrap.shape[0]) if groups else 0,
        "counts": to_jsonable(rank.battle_counts(b)),
        "battles": len(b),
    }


@router.get(
    "/arena/pair",
    summary="Draw two anonymous answers to one document",
    dependencies=DRAW_GUARDS,
)
def arena_pair(app: AppDep, task: TaskQuery = None) -> dict[str, Any]:
    return app.draw_pair(task).public()


@router.post(
    "/arena/vote",
    summary="Vote on a drawn pair; stores a battle and reveals the models",
    dependencies=WRITE_GUARDS,
)
def arena_vote(app: AppDep, vote: Vote) -> dict[str, Any]:
    return app.vote(vote.pair_id, vote.winner)
