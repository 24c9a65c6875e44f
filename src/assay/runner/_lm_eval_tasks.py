"""Benchmarks by name through lm-evaluation-harness's own task registry.

``assay eval -t mmlu,arc_easy`` hands names assay does not know to lm-eval (the optional extra
``assay[lm-eval]``): lm-eval builds the prompts, few-shot contexts, filters and metrics from its
own YAML and Python task code, and asks :class:`_AssayLM` — any assay backend — for the
log-likelihoods and generations. Its results and per-sample log are written in lm-eval's own
output layout and imported into the store as an lm-eval run, so samples carry lm-eval's task and
metric names, its ``doc_id`` and its per-choice log-likelihoods in the original choice order;
assay's intervals, paired tests and report then apply as to any stored run.

Data come from the Hugging Face datasets cache exactly as lm-eval loads them, or from a local
mirror ``DATA_DIR/<dataset_path>/<dataset_name or "default">/<split>.parquet`` (or ``.jsonl``).
"""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assay import requests as rq
from assay.errors import InputError

from ._ray import load_backend
from ._spec import MAX_INT32, _batch_size, _count

__all__ = [
    "LmEvalOptions",
    "LmEvalOutcome",
    "lm_eval_registry",
    "lm_eval_task_names",
    "local_datasets",
    "run_lm_eval_tasks",
]

EXTRA_HINT = "pip install 'assay[lm-eval]'"
DATA_SUFFIXES = (".parquet", ".jsonl", ".json", ".csv")
_BUILDER = {".parquet": "parquet", ".jsonl": "json", ".json": "json", ".csv": "csv"}
_PACKAGED = {"json", "parquet", "csv", "text", "arrow", "pandas"}


def _lm_eval():
    try:
        import lm_eval  # noqa: F401
    except ImportError as exc:
        raise InputError(
            f"lm-evaluation-harness is not installed: {EXTRA_HINT} adds lm-eval's tasks by name"
        ) from exc
    import lm_eval.tasks

    return lm_eval


@functools.cache
def _task_manager():
    """lm-eval's task index, built once per process (it reads about 15,000 YAML files; the
    installed registry does not change while assay runs)."""
    return _lm_eval().tasks.TaskManager()


def lm_eval_task_names(names: Sequence[str]) -> list[str]:
    """``names`` that lm-eval's registry knows (tasks, groups, tags); one line for the others."""
    known = set(_task_manager().all_tasks)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InputError(
            f"unknown task {unknown[0]!r}: not an assay task, a task file, or a task in "
            "lm-eval's registry (`assay tasks --all` lists both)"
        )
    return list(names)


def lm_eval_registry() -> list[dict[str, str]]:
    """Every name lm-eval's registry knows: ``name`` and ``kind`` (task, group or tag)."""
    index = _task_manager().task_index
    kinds = {"TASK": "task", "PY_TASK": "task", "GROUP": "group", "TAG": "tag"}
    return [
        {"name": name, "kind": kinds.get(getattr(entry.kind, "name", ""), "task")}
        for name, entry in sorted(index.items())
    ]


def _mirror_files(folder: Path) -> dict[str, str]:
    for suffix in DATA_SUFFIXES:
        files = {p.stem: str(p) for p in sorted(folder.glob(f"*{suffix}")) if p.is_file()}
        if files:
            return files
    return {}


def _expected(data_dir: Path | None, path: str, name: str | None) -> str:
    where = f"{data_dir / path / (name or 'default')}/<split>.parquet" if data_dir else ""
    cache = os.environ.get("HF_DATASETS_CACHE") or "~/.cache/huggingface/datasets"
    mirror = f"{where} (--data-dir) or " if where else "a --data-dir mirror or "
    return f"dataset {path!r}" + (f" ({name})" if name else "") + f": not found in {mirror}{cache}"


@contextlib.contextmanager
def local_datasets(data_dir: str | Path | None) -> Iterator[None]:
    """While active, lm-eval's ``datasets.load_dataset(path, name)`` reads the local mirror
    ``data_dir/<path>/<name or "default">/<split>.<ext>`` when that folder exists, else the
    datasets cache as lm-eval would; a data set found in neither is one line naming both."""
    import datasets

    real = datasets.load_dataset
    root = None if data_dir is None else Path(data_dir)
    if root is not None and not root.is_dir():
        raise InputError(f"--data-dir {root}: no such folder")

    def load(path: str | None = None, name: str | None = None, *args: Any, **kwargs: Any):
        if path in _PACKAGED or kwargs.get("data_files") or args:
            return real(path, name, *args, **kwargs)
        folder = None if root is None else root / str(path) / (name or "default")
        files = _mirror_files(folder) if folder is not None and folder.is_dir() else {}
        if files:
            builder = _BUILDER[Path(next(iter(files.values()))).suffix]
            return real(builder, data_files=files)
        try:
            return real(path, name, *args, **kwargs)
        except Exception as exc:  # the cache or the hub: lm-eval would fail here too
            raise InputError(_expected(root, str(path), name)) from exc

    bars = datasets.utils.are_progress_bars_disabled()
    datasets.disable_progress_bars()  # "Generating split" bars: data preparation, not progress
    datasets.load_dataset = load
    try:
        yield
    finally:
        datasets.load_dataset = real
        if not bars:
            datasets.enable_progress_bars()


@contextlib.contextmanager
def _no_git_probe(lm_eval: Any) -> Iterator[None]:
    """lm-eval records ``git describe`` of the working folder (its own checkout, for its own
    runs); for assay's runs that is the user's folder, so it is not asked (no git stderr)."""
    import lm_eval.evaluator as evaluator

    real = evaluator.get_git_commit_hash
    evaluator.get_git_commit_hash = lambda: None
    try:
        yield
    finally:
        evaluator.get_git_commit_hash = real


LM_EVAL_MAX_SEED = 2**32 - 1 - 1234
"""Upper bound of an lm-eval run's seed: lm-eval seeds numpy (below 2**32) with 1234 + seed."""


@dataclass(frozen=True)
class LmEvalOptions:
    """lm-eval's command-line flags that change what is evaluated (docs/tasks.md)."""

    num_fewshot: int | None = None
    limit: int | float | None = None
    seed: int = 0
    batch_size: int | str = "auto"
    apply_chat_template: bool = False
    fewshot_as_multiturn: bool | None = None
    gen_kwargs: Mapping[str, Any] = field(default_factory=dict)
    data_dir: str | None = None
    output_path: str | None = None
    log_samples: bool = True

    def __post_init__(self) -> None:
        """``batch_size`` normalised (``"auto"`` or an int, text like ``"16"`` read); ``limit``
        a count (a whole number >= 1) or, as lm-eval reads it, a fraction in (0, 1) of each
        task's documents. A bad value is one line."""
        object.__setattr__(self, "batch_size", _batch_size(self.batch_size))
        _count("num_fewshot", self.num_fewshot, 0, optional=True, high=MAX_INT32)
        _count("seed", self.seed, 0, high=LM_EVAL_MAX_SEED)
        limit = self.limit
        if limit is None:
            return
        if isinstance(limit, bool) or not isinstance(limit, int | float) or not limit > 0:
            raise InputError(f"limit {limit!r}: a count >= 1 or a fraction in (0, 1)")
        if limit >= 1:
            if limit != int(limit):
                raise InputError(f"limit {limit!r}: a count >= 1 or a fraction in (0, 1)")
            object.__setattr__(self, "limit", int(limit))


@dataclass(frozen=True)
class LmEvalOutcome:
    """What lm-eval computed (its ``results`` per task and group), each group's leaf tasks, and
    what the store got."""

    model: str
    results: dict[str, dict[str, Any]]
    groups: dict[str, list[str]]
    output_dir: str | None
    imported: Any


def _gen_request(context: str, kwargs: Mapping[str, Any], seed: int) -> rq.GenerateRequest:
    until = kwargs.get("until") or ()
    until = (until,) if isinstance(until, str) else tuple(str(u) for u in until)
    sample = bool(kwargs.get("do_sample", False))
    temperature = float(kwargs.get("temperature", 0.0) or 0.0) if sample else 0.0
    return rq.GenerateRequest(
        context=context,
        stop=until,
        max_new_tokens=int(kwargs.get("max_gen_toks", kwargs.get("max_new_tokens", 256))),
        temperature=temperature,
        seed=seed,
    )


def _make_lm(backend: Any, seed: int):
    from lm_eval.api.model import LM

    def _ok(results: list[Any], what: str) -> list[Any]:
        failed = [r for r in results if isinstance(r, rq.FailedResult)]
        if failed:
            raise InputError(f"model {backend.name!r}: {len(failed)} {what} replies unusable")
        return results

    class _AssayLM(LM):
        """lm-eval's model interface answered by an assay backend; ``generated`` keeps each
        generation's (input, output) token counts by its context and settings."""

        def __init__(self) -> None:
            super().__init__()
            self.generated: dict[tuple[str, str], tuple[int, int]] = {}

        def loglikelihood(self, requests, disable_tqdm: bool = False):
            asks = [rq.LoglikelihoodRequest(*r.args) for r in requests]
            out = _ok(backend.loglikelihood(asks), "log-likelihood")
            return [(float(r.logprob), bool(r.is_greedy)) for r in out]

        def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
            asks = [rq.RollingRequest(r.args[0]) for r in requests]
            return [float(r.logprob) for r in _ok(backend.loglikelihood_rolling(asks), "rolling")]

        def generate_until(self, requests, disable_tqdm: bool = False):
            asks = [_gen_request(r.args[0], r.args[1] or {}, seed) for r in requests]
            out = _ok(backend.generate(asks), "generation")
            for r, got in zip(requests, out, strict=True):
                key = (r.args[0], _settings_key(r.args[1]))
                self.generated[key] = (int(got.input_tokens), int(got.output_tokens))
            return [r.text for r in out]

        @property
        def tokenizer_name(self) -> str:
            return str(getattr(_tokenizer(backend), "name_or_path", backend.name))

        def chat_template(self, chat_template: bool | str = False) -> str | None:
            return getattr(_tokenizer(backend), "chat_template", None)

        def apply_chat_template(self, chat_history, add_generation_prompt: bool = True) -> str:
            """As lm-eval's ``HFLM``: the tokenizer's template; a template that refuses a system
            turn (lm-eval puts a task's description there) gets the history without it."""
            import jinja2

            def render(history) -> str:
                return _tokenizer(backend).apply_chat_template(
                    history,
                    tokenize=False,
                    add_generation_prompt=add_generation_prompt,
                    continue_final_message=not add_generation_prompt,
                )

            try:
                return render(chat_history)
            except jinja2.exceptions.TemplateError:
                return render([m for m in chat_history if m["role"] != "system"])

    return _AssayLM()


def _group_leaves(direct: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """Each group's leaf tasks (lm-eval nests groups: ``mmlu`` -> ``mmlu_stem`` -> tasks)."""

    def leaves(name: str, seen: frozenset[str]) -> list[str]:
        if not direct.get(name) or name in seen:
            return [name]
        return [leaf for sub in direct[name] for leaf in leaves(sub, seen | {name})]

    return {g: sorted(set(leaves(g, frozenset()))) for g, subs in direct.items() if subs}


def _settings_key(kwargs: Any) -> str:
    return repr(sorted((kwargs or {}).items())) if isinstance(kwargs, dict) else repr(kwargs)


def _carry_tokens(samples: list[dict[str, Any]], generated: dict) -> None:
    """Each generation's token counts on its sample line (the ``assay`` object the importer
    reads), so a stored generation has ``input_tokens`` and ``output_tokens``."""
    for sample in samples:
        args = sample.get("arguments") or []  # before saving: one args tuple per request
        first = args[0] if isinstance(args, list) and args else ()
        if len(first) != 2 or not isinstance(first[0], str):
            continue
        counts = generated.get((first[0], _settings_key(first[1])))
        if counts is not None:
            sample["assay"] = {"input_tokens": counts[0], "output_tokens": counts[1]}


def _sanitized(name: str) -> str:
    """The folder lm-eval names after a model (``org/model`` -> ``org__model``)."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name.replace("/", "__"))


def _tokenizer(backend: Any):
    tok = getattr(backend, "tokenizer", None)
    if tok is None or not getattr(tok, "chat_template", None):
        raise InputError(
            f"--apply-chat-template: model {backend.name!r} has no chat template (use an hf: or "
            "GGUF model whose tokenizer carries one)"
        )
    return tok


def run_lm_eval_tasks(
    backend: Any, names: Sequence[str], options: LmEvalOptions, store: Any
) -> LmEvalOutcome:
    """Evaluate ``backend`` on lm-eval's tasks ``names`` and import the run into ``store``.

    lm-eval's results JSON and samples JSONL go to ``options.output_path`` (its layout:
    ``OUTPUT/<model>/results_<date>.json``), else to a temporary folder removed after import."""
    lm_eval = _lm_eval()
    from lm_eval.loggers import EvaluationTracker

    from assay.store import import_lm_eval

    backend = load_backend(backend, options.batch_size)  # a given backend: its batch size set
    multiturn = options.fewshot_as_multiturn
    if multiturn is None:  # lm-eval's command line: on with a chat template, else off
        multiturn = options.apply_chat_template
    if multiturn and not options.apply_chat_template:
        raise InputError("--fewshot-as-multiturn needs --apply-chat-template (chat turns)")
    if options.apply_chat_template:
        _tokenizer(backend)
    lm = _make_lm(backend, options.seed)
    with contextlib.ExitStack() as stack:
        out = options.output_path or stack.enter_context(tempfile.TemporaryDirectory())
        tracker = EvaluationTracker(output_path=str(out))
        with local_datasets(options.data_dir), _no_git_probe(lm_eval):
            results = lm_eval.simple_evaluate(
                model=lm,
                tasks=list(names),
                num_fewshot=options.num_fewshot,
                limit=options.limit,
                batch_size=options.batch_size,
                log_samples=True,
                evaluation_tracker=tracker,
                apply_chat_template=options.apply_chat_template,
                fewshot_as_multiturn=multiturn,
                gen_kwargs=dict(options.gen_kwargs) or None,
                task_manager=lm_eval.tasks.TaskManager(),
                random_seed=options.seed,
                numpy_random_seed=1234 + options.seed,
                torch_random_seed=1234 + options.seed,
                fewshot_random_seed=1234 + options.seed,
            )
        if results is None:
            raise InputError("lm-eval returned no results")
        samples = results.pop("samples")
        folder = _sanitized(backend.name)
        tracker.general_config_tracker.model_name = backend.name
        tracker.general_config_tracker.model_name_sanitized = folder
        tracker.save_results_aggregated(results=results, samples=samples)
        for task in results["configs"]:
            _carry_tokens(samples[task], lm.generated)
            tracker.save_results_samples(task_name=task, samples=samples[task])
        newest = max((Path(out) / folder).glob("results_*.json"))  # ISO dates sort by time
        imported = import_lm_eval(store, newest, model=backend.name)
        if not options.log_samples and options.output_path:
            date = newest.stem.removeprefix("results_")
            for path in newest.parent.glob(f"samples_*_{date}.jsonl"):
                path.unlink()  # this run's samples log, written by assay just above
    return LmEvalOutcome(
        model=backend.name,
        results=results["results"],
        groups=_group_leaves(results.get("group_subtasks") or {}),
        output_dir=options.output_path,
        imported=imported,
    )
