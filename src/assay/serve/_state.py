"""The app's state: the store path, a cached report, and the arena's pending pairs."""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from assay.core import attributes
from assay.errors import AssayError
from assay.report import ReportData, build_report
from assay.store import Store, existing_store

from ._guard import BASELINE_LIMIT, RateLimit

MAX_PENDING = 10_000
#: Reports against a baseline kept (each is the report plus one verdict block).
MAX_BASELINES = 8
#: The way out a missing store's message names (after "run `assay eval` or `assay import` first").
STORE_HINT = ", or start `assay serve --store PATH`"


class NotFound(AssayError):
    """An unknown model, task or arena pair."""


@dataclass
class Pair:
    """Two anonymous answers to one document, waiting for a vote."""

    pair_id: str
    task: str
    doc_id: str
    model_a: str
    model_b: str
    prompt: str
    answer_a: str
    answer_b: str

    def public(self) -> dict[str, str]:
        """What the voter sees: no model names until the vote."""
        return attributes(self, "pair_id", "task", "doc_id", "prompt", "answer_a", "answer_b")


@dataclass
class AppState:
    """Everything a request needs; one per app. ``exposed``: it listens beyond loopback
    (writes then always need ``token``, which pages served to loopback clients carry).
    ``rate`` limits writes and pair draws, ``baseline_rate`` the report against a baseline
    (costly when not cached) per client; the last ``max_baselines`` of those are cached."""

    store_path: Path
    token: str | None = None
    seed: int = 0
    report_bootstrap: int = 20
    rate: RateLimit = field(default_factory=RateLimit)
    exposed: bool = False
    baseline_rate: RateLimit = field(default_factory=lambda: RateLimit(*BASELINE_LIMIT))
    max_baselines: int = MAX_BASELINES
    _rng: np.random.Generator = field(init=False)
    _pending: OrderedDict[str, Pair] = field(default_factory=OrderedDict, init=False)
    _report: tuple[Any, ReportData] | None = field(default=None, init=False)
    _baselines: OrderedDict[str, ReportData] = field(default_factory=OrderedDict, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        self._rng = np.random.default_rng(self.seed)

    # -- store ---------------------------------------------------------------------------
    def store(self) -> Store:
        """The store (:class:`assay.errors.StoreMissing` when its file is gone)."""
        return existing_store(self.store_path, hint=STORE_HINT)

    @staticmethod
    def _signature(store: Store) -> tuple[tuple[Any, ...], int]:
        """What the report depends on: (samples/metrics/models fingerprint, battle count)."""
        row = store.sql(
            """SELECT (SELECT count(*) FROM samples) AS s, (SELECT count(*) FROM sample_metrics)
                      AS m, (SELECT max(created_at) FROM samples) AS t,
                      (SELECT md5(coalesce(string_agg(CAST(models AS VARCHAR), '|'
                       ORDER BY model), '')) FROM models) AS h,
                      (SELECT count(*) FROM battles) AS b"""
        ).iloc[0]
        return (int(row["s"]), int(row["m"]), str(row["t"]), str(row["h"])), int(row["b"])

    def report(self, baseline: str | None = None) -> ReportData:
        """The report, cached: rebuilt when samples or models change; when only battles
        changed (a vote), just the arena panel is recomputed. With ``baseline`` (a model with
        scores), the report opens with every model against it (only its verdict block is
        recomputed, then kept until the store changes: the last ``max_baselines``)."""
        store = self.store()
        signature = self._signature(store)
        with self._lock:
            cached = self._report
            if cached is None or cached[0] != signature:
                self._baselines.clear()  # built on the store as it was
            if cached is None or cached[0][0] != signature[0]:
                data = build_report(store, scaling_bootstrap=self.report_bootstrap, seed=self.seed)
            elif cached[0][1] != signature[1]:
                data = cached[1].with_arena(store.battles())
            else:
                data = cached[1]
            self._report = (signature, data)
            if not baseline:
                return data
            hit = self._baselines.get(baseline)
            if hit is not None:
                self._baselines.move_to_end(baseline)
                return hit
        if baseline not in data.model_names:
            known = ", ".join(data.model_names) or "none"
            raise NotFound(f"unknown baseline {baseline!r} (models with scores: {known})")
        built = data.with_baseline(store, baseline)
        with self._lock:
            if self._report is not None and self._report[1] is data:  # the store is unchanged
                self._baselines[baseline] = built
                while len(self._baselines) > self.max_baselines:
                    self._baselines.popitem(last=False)
        return built

    def check_model(self, store: Store, model: str | None) -> None:
        if model is None:
            return
        known = set(store.sql("SELECT DISTINCT model FROM samples")["model"]) | set(
            store.models()["model"]
        )
        if model not in known:
            raise NotFound(f"unknown model {model!r} (known: {', '.join(sorted(known)) or 'none'})")

    def check_task(self, store: Store, task: str | None) -> None:
        if task is None:
            return
        known = set(store.sql("SELECT DISTINCT task FROM samples")["task"])
        if task not in known:
            raise NotFound(f"unknown task {task!r} (known: {', '.join(sorted(known)) or 'none'})")

    # -- arena ---------------------------------------------------------------------------
    def draw_pair(self, task: str | None = None) -> Pair:
        """A random document answered by ≥2 models, two of them in random order."""
        store = self.store()
        self.check_task(store, task)
        where = "WHERE prediction IS NOT NULL" + (" AND task = ?" if task else "")
        params = [task] if task else []
        docs = store.sql(
            f"""SELECT task, doc_id, list(DISTINCT model ORDER BY model) AS models
                FROM samples {where} GROUP BY task, doc_id
                HAVING count(DISTINCT model) >= 2 ORDER BY task, doc_id""",
            params,
        )
        if docs.empty:
            raise NotFound(
                "no document has answers from two models yet: evaluate at least two models "
                "on the same task"
            )
        with self._lock:
            row = docs.iloc[int(self._rng.integers(len(docs)))]
            models = list(row["models"])
            a, b = self._rng.choice(len(models), size=2, replace=False)
        model_a, model_b = str(models[a]), str(models[b])
        answers = store.sql(
            """SELECT model, prompt, prediction FROM samples
               WHERE task = ? AND doc_id = ? AND model IN (?, ?) AND prediction IS NOT NULL
               ORDER BY "repeat" """,
            [row["task"], row["doc_id"], model_a, model_b],
        ).drop_duplicates("model")
        by_model = answers.set_index("model")
        prompt = answers["prompt"].dropna()
        pair = Pair(
            pair_id=secrets.token_urlsafe(12),
            task=str(row["task"]),
            doc_id=str(row["doc_id"]),
            model_a=model_a,
            model_b=model_b,
            prompt=str(prompt.iloc[0]) if len(prompt) else f"(document {row['doc_id']})",
            answer_a=str(by_model.at[model_a, "prediction"]),
            answer_b=str(by_model.at[model_b, "prediction"]),
        )
        with self._lock:
            self._pending[pair.pair_id] = pair
            while len(self._pending) > MAX_PENDING:
                self._pending.popitem(last=False)
        return pair

    def vote(self, pair_id: str, winner: str) -> dict[str, Any]:
        """Store the vote on a pending pair as a battle (judge "human"); reveal the names."""
        with self._lock:
            pair = self._pending.pop(pair_id, None)
        if pair is None:
            raise NotFound(f"unknown or already voted pair {pair_id!r}: draw a new pair")
        # a drawn pair is voted on once, so this is a new vote even when an identical one is
        # stored: the next occurrence of its content id (assay.store.battle_id)
        battle_id, _ = self.store().add_vote(
            {
                "prompt_id": f"{pair.task}/{pair.doc_id}",
                "model_a": pair.model_a,
                "model_b": pair.model_b,
                "winner": winner,
                "judge": "human",
                "time": pd.Timestamp.now(tz="UTC").tz_localize(None),
                "source": "assay serve",
                # the answers shown: the store keeps their style features (style control)
                "answer_a": pair.answer_a,
                "answer_b": pair.answer_b,
            },
            again=True,
        )
        return {
            "battle_id": battle_id,
            "model_a": pair.model_a,
            "model_b": pair.model_b,
            "winner": winner,
            "task": pair.task,
            "doc_id": pair.doc_id,
        }
