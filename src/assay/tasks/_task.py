"""The Task model: documents, templates, few-shot policy; requests and scoring are delegated to
the strategy of its request type (``_kinds``). Also the task as a plain dict (``task_to_dict``),
which the YAML schema writes and the fingerprint hashes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from assay.core import MetricInfo, metric_spec, parse_metric_spec, stable_hash, to_jsonable
from assay.errors import InputError

from ._blank import BlankPPL
from ._docs import Doc, spread_order
from ._filters import make_filter
from ._instance import Instance, Result, ScoredSample
from ._kinds import KINDS as _KINDS
from ._kinds import LETTERS, RequestKind, choice_index
from ._render import render, resolve_choices, resolve_target, resolve_text

FRAMINGS = ("cloze", "lettered")
KINDS: dict[str, RequestKind] = {**_KINDS, BlankPPL.request_type: BlankPPL()}
"""Every request type's strategy: those of ``_kinds`` and blank-ppl (``_blank``)."""
REQUEST_TYPES = tuple(KINDS)


@dataclass
class Task:
    """A task: what to ask a model and how to score the answer (see docs/tasks.md).

    ``templates`` maps template ids to Jinja2 templates of the question text; inside them the
    document's fields are variables, plus ``choices`` (in the shown order), ``letters`` and
    ``choice_list`` ("A. first\\nB. second"). ``target`` and ``choices`` follow lm-eval's
    ``doc_to_target``/``doc_to_choice``: a field name, a Jinja2 template or a literal.
    ``framing`` (per template via ``template_framing``) is ``cloze`` (score each choice's text)
    or ``lettered`` (score " A", " B", ...). Few-shot examples come from ``fewshot_docs`` (a named
    split) or else from the other documents, never the document itself.
    """

    name: str
    request_type: str
    docs: list[Doc]
    templates: dict[str, str]
    version: str = "1"
    default_template: str | None = None
    target: Any = "target"
    choices: Any = None
    framing: str = "cloze"
    template_framing: dict[str, str] = field(default_factory=dict)
    description: str = ""
    num_fewshot: int = 0
    fewshot_docs: list[Doc] | None = None
    fewshot_split: str | None = None
    target_delimiter: str = " "
    fewshot_delimiter: str = "\n\n"
    max_new_tokens: int = 32
    stop: tuple[str, ...] = ("\n\n",)
    temperature: float = 0.0
    filters: list[Any] = field(default_factory=list)
    chat: bool = False
    chat_template: str | None = None
    system_prompt: str | None = None
    source: str = "python"
    metadata: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    choice_labels: tuple[str, ...] | None = None
    """Labels shown and scored instead of A, B, C... (a robustness perturbation sets them)."""

    def __post_init__(self) -> None:
        where = f"task {self.name!r}"
        if not isinstance(self.metrics, dict):
            raise InputError(f"{where}: 'metrics' must map metric names to their declarations")
        self.metrics = {
            str(k): v if isinstance(v, MetricInfo) else parse_metric_spec(k, v, "metrics")
            for k, v in self.metrics.items()
        }
        if self.request_type not in REQUEST_TYPES:
            raise InputError(
                f"{where}: request_type {self.request_type!r} is not one of {REQUEST_TYPES}"
            )
        if not self.templates:
            raise InputError(f"{where}: needs at least one template")
        if self.default_template is None:
            self.default_template = next(iter(self.templates))
        if self.default_template not in self.templates:
            raise InputError(
                f"{where}: default_template {self.default_template!r} not in templates"
            )
        for tid in [self.framing, *self.template_framing.values()]:
            if tid not in FRAMINGS:
                raise InputError(f"{where}: framing {tid!r} is not one of {FRAMINGS}")
        self.kind.check(self, where)
        self.stop = (self.stop,) if isinstance(self.stop, str) else tuple(self.stop)
        checks = (
            ("num_fewshot", isinstance(self.num_fewshot, int) and self.num_fewshot >= 0),
            ("max_new_tokens", isinstance(self.max_new_tokens, int) and self.max_new_tokens > 0),
            (
                "temperature",
                isinstance(self.temperature, int | float) and self.temperature >= 0,
            ),
            ("stop", all(isinstance(s, str) for s in self.stop)),
            ("chat", isinstance(self.chat, bool)),
            ("name", isinstance(self.name, str) and self.name.strip() != ""),
            ("description", isinstance(self.description, str)),
            ("target_delimiter", isinstance(self.target_delimiter, str)),
            ("fewshot_delimiter", isinstance(self.fewshot_delimiter, str)),
            ("chat_template", self.chat_template is None or isinstance(self.chat_template, str)),
            ("system_prompt", self.system_prompt is None or isinstance(self.system_prompt, str)),
            ("templates", all(isinstance(t, str | int | list) for t in self.templates.values())),
        )
        for key, ok in checks:
            if not ok:
                raise InputError(f"{where}: bad value for {key!r}: {getattr(self, key)!r}")
        ids = [d.doc_id for d in self.docs]
        if len(set(ids)) != len(ids):
            dup = pd.Series(ids)[pd.Series(ids).duplicated()].iloc[0]
            raise InputError(f"{where}: duplicate doc_id {dup!r}")
        make_filter(self.filters)  # validate early
        if not self.docs:
            raise InputError(f"{where}: has no documents")

    # ------------------------------------------------------------------ identity
    @property
    def kind(self) -> RequestKind:
        """The strategy of this task's request type (looked up, so it follows ``request_type``)."""
        return KINDS[self.request_type]

    def fingerprint(self) -> str:
        """Hash of everything that changes prompts or scoring (docs, templates, few-shot...);
        not the metric declarations (which way is better changes no answer)."""
        spec = task_to_dict(self)
        for key in ("name", "version", "source", "metadata", "metrics"):
            spec.pop(key, None)
        return stable_hash(spec)

    def to_dict(self, *, include_docs: bool = True) -> dict[str, Any]:
        """The task in assay's YAML schema (see :func:`assay.tasks.save_task`)."""
        return task_to_dict(self, include_docs=include_docs)

    @property
    def difficulty_levels(self) -> list[float]:
        return sorted({d.difficulty for d in self.docs if d.difficulty is not None})

    def ordered_docs(self, limit: int | None = None) -> list[Doc]:
        """Docs in the deterministic order that spreads difficulty levels; first ``limit``."""
        order = spread_order([d.difficulty for d in self.docs])
        if limit is not None:
            order = order[: max(limit, 0)]
        return [self.docs[i] for i in order]

    def where(self, detail: str = "") -> str:
        """Names this task (and its file) in error messages: ``FILE: task 'x', DETAIL``."""
        label = f"task {self.name!r}" + (f", {detail}" if detail else "")
        if self.source in ("python", "builtin", ""):
            return label
        return f"{self.source}: {label}"

    def framing_of(self, template_id: str) -> str:
        return self.template_framing.get(template_id, self.framing)

    # ------------------------------------------------------------------ rendering
    def _choices_and_target(self, doc: Doc, where: str) -> tuple[list[str] | None, Any]:
        choices = None
        if self.choices is not None:
            choices = resolve_choices(self.choices, doc.fields, where=where)
        target = resolve_target(
            self.target, doc.fields, has_choices=choices is not None, where=where
        )
        return choices, target

    def _variables(self, doc: Doc, shown: list[str] | None) -> dict[str, Any]:
        variables = dict(doc.fields)
        if shown is not None:
            letters = list((self.choice_labels or LETTERS)[: len(shown)])
            variables.update(
                choices=shown,
                letters=letters,
                choice_list="\n".join(f"{a}. {c}" for a, c in zip(letters, shown, strict=True)),
            )
        return variables

    def _question(self, doc: Doc, template_id: str, shown: list[str] | None) -> str:
        where = self.where(f"template {template_id!r}, doc_id {doc.doc_id!r}")
        text = resolve_text(self.templates[template_id], self._variables(doc, shown), where=where)
        return str(text)

    def _answer_text(self, doc: Doc, template_id: str) -> str:
        """The gold answer as it appears after the target delimiter in a few-shot example."""
        where = self.where(f"doc_id {doc.doc_id!r}")
        choices, target = self._choices_and_target(doc, where)
        if choices is not None:
            index = choice_index(choices, target, where)
            return self.kind.shot_answer(self, template_id, choices, index)
        return str(target[0] if isinstance(target, list) else target)

    def _fewshot_prefix(
        self,
        doc: Doc,
        k: int,
        seed: int,
        template_id: str,
        pool_hashes: list[str],
        shot_cache: dict[int, str],
    ) -> tuple[str, list[str]]:
        pool = self.fewshot_docs if self.fewshot_docs is not None else self.docs
        description = ""
        if self.description:
            where = self.where(f"description, doc_id {doc.doc_id!r}")
            description = render(self.description, doc.fields, where=where)
        if k <= 0 or not pool:
            return description, []
        own_hash = doc.doc_hash
        rng = np.random.default_rng([seed, int(own_hash[:12], 16)])
        draw = rng.choice(len(pool), size=min(k + 8, len(pool)), replace=False)
        chosen = [
            int(i) for i in draw if pool[i].doc_id != doc.doc_id and pool_hashes[i] != own_hash
        ][:k]
        if len(chosen) < k:  # many copies of this doc: filter the whole pool
            keep = [
                int(i)
                for i in rng.permutation(len(pool))
                if pool[i].doc_id != doc.doc_id and pool_hashes[i] != own_hash
            ]
            chosen = keep[:k]
        if len(chosen) < k:
            raise InputError(
                f"{self.where()}: num_fewshot={k} but only {len(chosen)} other documents"
            )
        for i in chosen:
            if i not in shot_cache:
                shot_cache[i] = (
                    self._question(pool[i], template_id, self._shot_choices(pool[i]))
                    + self.target_delimiter
                    + self._answer_text(pool[i], template_id)
                )
        shots = [shot_cache[i] for i in chosen]
        prefix = description + self.fewshot_delimiter.join(shots) + self.fewshot_delimiter
        return prefix, [pool[i].doc_id for i in chosen]

    def _shot_choices(self, doc: Doc) -> list[str] | None:
        if self.choices is None:
            return None
        where = self.where(f"doc_id {doc.doc_id!r}")
        return resolve_choices(self.choices, doc.fields, where=where)

    def instances(
        self,
        *,
        limit: int | None = None,
        num_fewshot: int | None = None,
        seed: int = 0,
        repeats: int = 1,
        permute_choices: int = 0,
        template_id: str | None = None,
    ) -> list[Instance]:
        """Render the prompts and build the requests (see :class:`assay.tasks.Instance`).

        ``repeat = ordering * repeats + sample``; ``limit`` takes the first docs of
        :meth:`ordered_docs`. Same arguments, same instances.
        """
        tid = template_id or self.default_template
        if tid not in self.templates:
            raise InputError(
                f"{self.where()}: unknown template {tid!r} (have: {', '.join(self.templates)})"
            )
        k = self.num_fewshot if num_fewshot is None else num_fewshot
        _check_count("limit", limit, 0)
        _check_count("num_fewshot", k, 0)
        _check_count("seed", seed, 0)
        _check_count("repeats", repeats, 1)
        _check_count("permute_choices", permute_choices, 0)
        if not self.kind.fewshot:
            k = 0
        pool = self.fewshot_docs if self.fewshot_docs is not None else self.docs
        pool_hashes = [d.doc_hash for d in pool] if k > 0 else []
        shot_cache: dict[int, str] = {}  # pool index -> rendered example
        out: list[Instance] = []
        for doc in self.ordered_docs(limit):
            fewshot = self._fewshot_prefix(doc, k, seed, tid, pool_hashes, shot_cache)
            out.extend(self._doc_instances(doc, tid, fewshot, seed, repeats, permute_choices))
        return out

    def _doc_instances(
        self,
        doc: Doc,
        tid: str,
        fewshot: tuple[str, list[str]],
        seed: int,
        repeats: int,
        permute_choices: int,
    ) -> list[Instance]:
        where = self.where(f"template {tid!r}, doc_id {doc.doc_id!r}")
        doc_hash = doc.doc_hash
        choices, target = self._choices_and_target(doc, where)
        prefix, shot_ids = fewshot

        def ask(shown: list[str] | None) -> str:
            return prefix + self._question(doc, tid, shown)

        variants = self.kind.variants(
            self,
            doc,
            tid,
            choices,
            target,
            ask,
            seed=seed,
            permute_choices=permute_choices,
            where=where,
        )
        out = []
        for ordering, variant in enumerate(variants):
            meta: dict[str, Any] = {"fewshot_doc_ids": shot_ids, "chat": self.chat}
            meta["ordering"] = ordering
            if self.chat:
                meta["user_message"] = variant.user_message
            for sample in range(repeats):
                repeat = ordering * repeats + sample
                reqs = self.kind.sample_requests(self, variant.requests, seed=seed, repeat=repeat)
                prompt = reqs[0].context if hasattr(reqs[0], "context") else reqs[0].text
                out.append(
                    Instance(
                        task=self.name,
                        doc_id=doc.doc_id,
                        repeat=repeat,
                        template_id=tid,
                        prompt=prompt,
                        requests=list(reqs),
                        target=variant.target,
                        choices=choices,
                        choice_order=variant.order,
                        target_index=variant.target_index,
                        difficulty=doc.difficulty,
                        cluster_id=doc.cluster_id,
                        doc_hash=doc_hash,
                        prompt_hash=stable_hash([repr(r) for r in reqs]),
                        metadata=dict(meta, sample=sample),
                        payload=variant.payload,
                    )
                )
        return out

    # ------------------------------------------------------------------ scoring
    def score(self, instance: Instance, results: list[Result]) -> ScoredSample:
        """Metrics of one instance from the answers to ``instance.requests`` (in order)."""
        if len(results) != len(instance.requests):
            raise ValueError(
                f"{instance.doc_id}: {len(results)} results for {len(instance.requests)} requests"
            )
        return self.kind.score(self, instance, results)


def _check_count(name: str, value: Any, low: int) -> None:
    """``value`` (None allowed) must be a whole number >= ``low``."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise InputError(f"{name} must be a whole number >= {low}, got {value!r}")


def _doc_record(doc: Doc) -> dict[str, Any]:
    record: dict[str, Any] = {"doc_id": doc.doc_id}
    if doc.difficulty is not None:
        record["difficulty"] = doc.difficulty
    if doc.cluster_id is not None:
        record["cluster_id"] = doc.cluster_id
    record.update(to_jsonable(doc.fields))
    return record


def task_to_dict(task: Task, *, include_docs: bool = True) -> dict[str, Any]:
    """The task in assay's YAML schema (documents inline), so ``task_from_dict`` rebuilds it."""
    templates: dict[str, Any] = {}
    for tid, text in task.templates.items():
        framing = task.template_framing.get(tid)
        templates[tid] = {"text": text, "framing": framing} if framing else text
    out: dict[str, Any] = {
        "name": task.name,
        "version": task.version,
        "request_type": task.request_type,
        "templates": templates,
        "default_template": task.default_template,
        "target": task.target,
        "choices": task.choices,
        "framing": task.framing,
        "description": task.description,
        "num_fewshot": task.num_fewshot,
        "fewshot_split": task.fewshot_split,
        "target_delimiter": task.target_delimiter,
        "fewshot_delimiter": task.fewshot_delimiter,
        "generation": {
            "max_new_tokens": task.max_new_tokens,
            "stop": list(task.stop),
            "temperature": task.temperature,
        },
        "filters": list(task.filters),
        "chat": task.chat,
        "chat_template": task.chat_template,
        "system_prompt": task.system_prompt,
        "metadata": to_jsonable(task.metadata),
    }
    if task.choice_labels:  # only when set: unperturbed fingerprints stay what they were
        out["choice_labels"] = list(task.choice_labels)
    if task.metrics:
        out["metrics"] = {name: metric_spec(info) for name, info in task.metrics.items()}
    if include_docs:
        out["docs"] = [_doc_record(d) for d in task.docs]
        if task.fewshot_docs is not None:
            out["fewshot_docs"] = [_doc_record(d) for d in task.fewshot_docs]
    out["source"] = task.source
    return out
