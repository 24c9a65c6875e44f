"""The metric registry: for each metric name, which way is better, its bounds, its chance level
and its priority as a task's headline; and corpus perplexities as per-document scores.

Every part asks :func:`metric_info` / :func:`headline_metric` instead of keeping its own list.
A task file declares its own metrics (``metrics: {name: {higher_is_better: false, ...}}``);
the runner stores the declarations on the run row (outside the run id's hash) and a store's
evidence (``Store.evidence()``) reads them back with :func:`declared_metrics` into its metric
map, which every analysis is handed (``metrics=``). Resolution is a pure function of that map
and the built-in registry: there is no process-wide state. Unknown metrics are
higher-is-better, unbounded, priority 0.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from assay.errors import InputError

from ._discovery import DISCOVERY_METRICS, append_corpus_rows, with_discovery_metrics


@dataclass(frozen=True)
class MetricInfo:
    """One metric. ``bounds`` is the closed range of its values (None: unbounded); ``chance``
    the score of guessing where it is fixed (None: unknown or data-dependent); ``priority``
    ranks headline candidates (highest wins; below 0 only when nothing else is there);
    ``log_scale``: a positive ratio-like value (perplexity) whose interval is formed on the log
    scale, mean · exp(±q · SE / mean), so it stays positive and is skewed as the metric is."""

    name: str
    higher_is_better: bool = True
    bounds: tuple[float, float] | None = None
    chance: float | None = None
    priority: int = 0
    description: str = ""
    log_scale: bool = False

    @property
    def lower_is_better(self) -> bool:
        return not self.higher_is_better

    @property
    def sign(self) -> float:
        """+1 when higher is better, −1 when lower is: ``sign * value`` is higher-is-better."""
        return 1.0 if self.higher_is_better else -1.0

    @property
    def interval(self) -> str:
        """How assay forms this metric's interval: ``log`` (a perplexity: on the log scale),
        ``delta`` (a corpus metric: the clustered interval of its delta-method per-document
        pseudo-values, :func:`with_corpus_metrics`) or ``clustered`` (the clustered interval of
        the mean of per-sample values)."""
        if self.log_scale:
            return "log"
        corpus = self.name in CORPUS_METRICS or self.name in DISCOVERY_METRICS
        return "delta" if corpus else "clustered"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _m(name: str, priority: int, higher: bool = True, bounds=None, chance=None, text=""):
    log_scale = name.endswith("perplexity")
    return MetricInfo(name, higher, bounds, chance, priority, text, log_scale)


_UNIT = (0.0, 1.0)
#: The built-in metrics (what assay's tasks, importers and arenas produce).
BUILTIN_METRICS: dict[str, MetricInfo] = {
    m.name: m
    for m in (
        _m("word_perplexity", 120, False, None, None, "corpus exp(−Σ logprob / Σ words)"),
        _m("bits_per_byte", 115, False, None, None, "corpus −Σ logprob / (Σ bytes · ln 2)"),
        _m("byte_perplexity", 110, False, None, None, "corpus exp(−Σ logprob / Σ bytes)"),
        _m("acc", 100, True, _UNIT, None, "argmax log-likelihood is the right choice"),
        _m("exact_match", 95, True, _UNIT, None, "answer equals a target"),
        _m("acc_norm", 90, True, _UNIT, None, "acc with log-likelihood per character"),
        _m("pass@1", 85, True, _UNIT, 0.0, "first sample passes the tests"),
        _m("f1", 80, True, _UNIT, None, "SQuAD token F1"),
        _m("accuracy", 75, True, _UNIT, None, "imported accuracy"),
        _m("score", 70, True, None, None, "imported score"),
        _m("acc_bytes", 60, True, _UNIT, None, "acc with log-likelihood per byte"),
        _m("acc_tokens", 55, True, _UNIT, None, "acc with log-likelihood per token"),
        _m("p_correct", 50, True, _UNIT, None, "probability of the right choice"),
        _m("brier", 40, False, (0.0, 2.0), None, "Brier score over the choices"),
        _m("logprob_correct", 30, True, (-math.inf, 0.0), None, "log p(right choice)"),
        _m("perplexity", 25, False, None, None, "perplexity"),
        _m("loss", 20, False, None, None, "loss"),
        _m("chose_tempting", 10, False, _UNIT, None, "picked the tempting wrong answer"),
        _m("p_tempting", 10, False, _UNIT, None, "probability of the tempting answer"),
        _m("logprob", 5, True, (-math.inf, 0.0), None, "document log-likelihood (nats)"),
        _m("latency", 1, False, (0.0, math.inf), None, "seconds per request"),
        _m("bytes", -1, True, (0.0, math.inf), None, "count: UTF-8 bytes of the document"),
        _m("words", -1, True, (0.0, math.inf), None, "count: words of the document"),
        _m("tokens", -1, True, (0.0, math.inf), None, "count: tokens of the document"),
    )
}

_POS = (0.0, math.inf)
#: Metrics from the wider evaluation literature (docs/metrics.md): quantile forecasts
#: (:mod:`._quantile`), discovery (:mod:`._discovery`, corpus metrics) and retrieval
#: (:mod:`._retrieval`).
BUILTIN_METRICS.update(
    (m.name, m)
    for m in (
        _m("ndcg", 66, True, _UNIT, None, "NDCG of the whole ranking, linear gain"),
        _m("mrr", 64, True, _UNIT, None, "reciprocal rank of the first relevant item"),
        _m("daf", 68, True, _POS, 1.0, "discovery acceleration factor: precision / prevalence"),
        _m("disc_f1", 67, True, _UNIT, None, "F1 of predicted positives (value ≤ 0)"),
        _m("disc_precision", 66, True, _UNIT, None, "precision of predicted positives"),
        _m("disc_recall", 66, True, _UNIT, None, "recall of true positives (value ≤ 0)"),
        _m("discovery_pred", -1, False, None, None, "predicted value (≤ 0: positive)"),
        _m("discovery_true", -1, False, None, None, "true value (≤ 0: positive)"),
        _m("wis", 45, False, _POS, None, "weighted interval score of quantile forecasts"),
        _m("wis_sorted", 44, False, _POS, None, "WIS after sorting crossing quantiles"),
        _m("wis_isotonic", 44, False, _POS, None, "WIS after isotonic repair of quantiles"),
        _m("pinball", 43, False, _POS, None, "mean pinball loss over the quantile levels"),
    )
)

#: Metric families named ``<family>@<k>`` (a cutoff, or a central interval's percentage);
#: ``{k}`` in the description is replaced by it.
METRIC_FAMILIES: dict[str, MetricInfo] = {
    m.name: m
    for m in (
        _m("ndcg", 65, True, _UNIT, None, "NDCG of the top {k}, linear gain"),
        _m("recall", 63, True, _UNIT, None, "share of the relevant items in the top {k}"),
        _m("coverage", -1, True, _UNIT, None, "y inside the central {k}% interval"),
    )
}

#: Corpus metrics: name -> (per-document denominator, transform of r = −Σ logprob / Σ denom).
CORPUS_METRICS: dict[str, str] = {
    "word_perplexity": "words",
    "byte_perplexity": "bytes",
    "bits_per_byte": "bytes",
}

#: A metric map: name -> definition (a store's declarations, or its resolved metrics).
MetricMap = Mapping[str, MetricInfo]


def _lower_by_name(name: str) -> bool:
    low = name.lower()
    return "perplexity" in low or "latency" in low or low.endswith(("_loss", "loss"))


def metric_info(name: str, metrics: MetricMap | None = None) -> MetricInfo:
    """What assay knows of ``name``: its entry in ``metrics`` (a store's metric map), else a
    built-in one (also of a family: ``ndcg@10``, ``recall@5``, ``coverage@90``), else the
    default (higher-is-better, unbounded, priority 0; perplexity-, loss-
    and latency-like names are lower-is-better)."""
    name = str(name)
    if metrics and name in metrics:
        return metrics[name]
    return _builtin(name) or MetricInfo(name, higher_is_better=not _lower_by_name(name))


def _builtin(name: str) -> MetricInfo | None:
    """The built-in definition of ``name``, also of a family member such as ``ndcg@10`` and of
    an lm-eval filtered name such as ``exact_match,strict-match`` (the metric after a filter:
    its direction, bounds and priority are the metric's)."""
    if name in BUILTIN_METRICS:
        return BUILTIN_METRICS[name]
    metric, comma, filtered = name.partition(",")
    if comma and filtered and metric not in CORPUS_METRICS:
        base = _builtin(metric)
        if base is None:
            return None
        return replace(base, name=name, description=f"{base.description} ({filtered} filter)")
    family, sep, k = name.partition("@")
    try:
        fits = sep and family in METRIC_FAMILIES and math.isfinite(float(k)) and float(k) > 0
    except ValueError:
        fits = False
    if not fits:
        return None
    base = METRIC_FAMILIES[family]
    return replace(base, name=name, description=base.description.replace("{k}", k))


def lower_is_better(name: str, metrics: MetricMap | None = None) -> bool:
    """True when smaller values of ``name`` are better (by ``metrics``, else built in)."""
    return metric_info(name, metrics).lower_is_better


def headline_metric(names: Iterable[str], metrics: MetricMap | None = None) -> str:
    """The headline among ``names``: highest priority (by ``metrics``, else built in), ties by
    name."""
    unique = sorted(set(map(str, names)))
    if not unique:
        raise InputError("no metrics in the scores")
    return min(unique, key=lambda n: (-metric_info(n, metrics).priority, n))


def resolve_metrics(
    names: Iterable[str], declared: MetricMap | None = None
) -> dict[str, MetricInfo]:
    """The definition of each of ``names`` and of each declared metric: declared, else built
    in, else the default (:func:`metric_info`)."""
    every = set(map(str, names)) | set(declared or {})
    return {name: metric_info(name, declared) for name in sorted(every)}


def parse_metric_spec(name: str, spec: Any, where: str = "metrics") -> MetricInfo:
    """A task file's declaration of one metric: ``{higher_is_better, bounded, chance,
    priority, description}`` (all optional; an empty declaration of a built-in metric, e.g.
    ``wis: {}`` or ``ndcg@10: {}``, keeps its built-in definition); a one-line error names what
    is wrong."""
    if spec is None:
        spec = {}
    if not isinstance(spec, Mapping):
        raise InputError(f"{where}.{name}: expected a mapping, got {type(spec).__name__}")
    unknown = set(spec) - {"higher_is_better", "bounded", "chance", "priority", "description"}
    if unknown:
        raise InputError(f"{where}.{name}: unknown key(s) {', '.join(sorted(unknown))}")
    builtin = None if spec else _builtin(str(name))
    if builtin is not None:  # an empty declaration names a built-in metric (wis, ndcg@10...)
        return builtin
    higher = spec.get("higher_is_better", True)
    if not isinstance(higher, bool):
        raise InputError(f"{where}.{name}.higher_is_better: expected true or false")
    bounds = spec.get("bounded")
    if bounds is not None:
        ok = isinstance(bounds, Sequence) and not isinstance(bounds, str) and len(bounds) == 2
        try:
            low, high = (float(b) for b in bounds) if ok else (math.nan, math.nan)
        except (TypeError, ValueError):
            low, high = math.nan, math.nan
        if not low < high:
            raise InputError(f"{where}.{name}.bounded: expected [low, high] with low < high")
        bounds = (low, high)
    chance = spec.get("chance")
    if chance is not None and (isinstance(chance, bool) or not isinstance(chance, int | float)):
        raise InputError(f"{where}.{name}.chance: expected a number")
    priority = spec.get("priority", 0)
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise InputError(f"{where}.{name}.priority: expected an integer")
    return MetricInfo(
        str(name),
        higher,
        bounds,
        None if chance is None else float(chance),
        priority,
        str(spec.get("description", "")),
    )


def declared_metrics(runs: pd.DataFrame) -> dict[str, MetricInfo]:
    """The metric declarations the runner stored on run rows (``extra.metrics``), later rows
    winning. Rows without declarations, or with unreadable ``extra``, are skipped."""
    found: dict[str, MetricInfo] = {}
    if "extra" not in runs.columns:
        return found
    for extra in runs["extra"].dropna():
        try:
            data = json.loads(extra) if isinstance(extra, str) else extra
        except ValueError:
            continue
        decls = data.get("metrics") if isinstance(data, Mapping) else None
        if isinstance(decls, Mapping):
            for name, spec in decls.items():
                try:
                    found[str(name)] = parse_metric_spec(name, spec)
                except InputError:
                    continue
    return found


def metric_spec(info: MetricInfo) -> dict[str, Any]:
    """``info`` as a task file would declare it (what the runner stores on a run)."""
    out: dict[str, Any] = {"higher_is_better": info.higher_is_better, "priority": info.priority}
    if info.bounds is not None:
        out["bounded"] = list(info.bounds)
    if info.chance is not None:
        out["chance"] = info.chance
    if info.description:
        out["description"] = info.description
    return out


def with_corpus_metrics(scores: pd.DataFrame) -> pd.DataFrame:
    """``scores`` plus the corpus metrics of every rolling task (one with ``logprob``,
    ``words`` and ``bytes``) as per-document rows whose mean is the corpus value.

    For a model on a task with per-document log-likelihood l_i (averaged over repeats and runs)
    and denominator d_i (words or bytes), r = −Σ l / Σ d. Each document gets the pseudo-value
    v_i = g(r) + g'(r) · (−l_i − r·d_i) / mean(d) — the linearisation of g(r) — so mean(v) =
    g(r) exactly (``word_perplexity`` = exp(r) with d = words, ``byte_perplexity`` = exp(r)
    and ``bits_per_byte`` = r / ln 2 with d = bytes), and the standard error of mean(v) is the
    delta-method one; paired differences of v are the delta-method paired differences. Tasks
    that already carry a corpus metric keep theirs. Discovery metrics (DAF, precision, recall
    and F1 at a threshold) are added the same way (:func:`with_discovery_metrics`).
    """
    scores = with_discovery_metrics(scores)
    need = {"model", "task", "doc_id", "metric", "value"}
    if scores.empty or not need <= set(scores.columns):
        return scores
    pieces = scores[scores["metric"].isin(["logprob", "words", "bytes"])]
    present = scores.loc[scores["metric"].isin(list(CORPUS_METRICS)), "task"].unique()
    pieces = pieces[~pieces["task"].isin(present)]
    if pieces.empty:
        return scores
    keys = ["model", "task", "doc_id"]
    wide = pieces.pivot_table(index=keys, columns="metric", values="value", aggfunc="mean")
    if not {"logprob", "words", "bytes"} <= set(wide.columns):
        return scores
    wide = wide.dropna(subset=["logprob", "words", "bytes"]).reset_index()
    group = wide.groupby(["model", "task"], sort=False)
    nll = -wide["logprob"].to_numpy(float)
    frames = []
    for name, denom_col in CORPUS_METRICS.items():
        denom = wide[denom_col].to_numpy(float)
        sums = pd.DataFrame({"nll": nll, "d": denom, **{k: wide[k] for k in ("model", "task")}})
        tot = sums.groupby(["model", "task"], sort=False).transform("sum")
        mean_d = tot["d"].to_numpy() / group["doc_id"].transform("size").to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            r = tot["nll"].to_numpy() / tot["d"].to_numpy()
            lin = (nll - r * denom) / mean_d
        value = (r + lin) / math.log(2) if name == "bits_per_byte" else np.exp(r) * (1.0 + lin)
        frames.append(wide[keys].assign(metric=name, value=value))
    rows = pd.concat(frames, ignore_index=True)
    return append_corpus_rows(scores, pieces, rows)


# Metrics from the wider evaluation literature (issue 35), computed by ``assay.metrics``.
BUILTIN_METRICS.update(
    (m.name, m)
    for m in (
        _m(
            "tree_edit_distance",
            45,
            False,
            _UNIT,
            None,
            "SRSD normalised tree edit distance to the true equation",
        ),
        _m("pate", 44, True, _UNIT, None, "PATE: proximity-aware PR-AUC of anomaly scores"),
        _m("pa_f1", 43, True, _UNIT, None, "point-adjusted F1 at the best threshold"),
        # label-free, per-sample pseudo-values whose run mean is the metric (in (0, 1])
        _m("matrix_nuclear_norm", 2, True, None, None, "answer matrix nuclear norm (L1,2)"),
        _m("matrix_nuclear_norm_exact", 2, True, None, None, "answer matrix nuclear norm"),
        _m("matrix_entropy", 2, True, None, None, "answer matrix von Neumann entropy"),
    )
)
