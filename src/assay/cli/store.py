"""`assay store`, `assay import`, `assay export`, `assay models`: the store and its files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from assay.errors import InputError
from assay.store import (
    add_label_free_metrics,
    export_lm_eval,
    export_samples,
    import_inspect,
    import_lighteval,
    import_lm_eval,
    import_samples,
    merge_stores,
    set_model_meta,
)

from ._common import (
    console,
    get_store,
    json_printed,
    print_json,
    print_table,
    store_for_writing,
)
from ._options import JsonOption, StoreOption, split_list
from ._progress import progress_bar

store_app = typer.Typer(help="Inspect and query the result store.", no_args_is_help=True)
import_app = typer.Typer(
    help="Bring results from other harnesses into the store.", no_args_is_help=True
)
models_app = typer.Typer(help="Models and their metadata.", no_args_is_help=True)


@store_app.command("info")
def info(store: StoreOption = None, json_out: JsonOption = False) -> None:
    """Show models, tasks, runs and sample counts in the store."""
    result = get_store(store, must_exist=True).info()
    if json_printed(json_out, result):
        return
    console.print(
        Text.assemble((str(result["path"]), "bold"), f" (schema v{result['schema_version']})")
    )
    print_table([result["counts"]], title="rows")
    if result["tasks"]:
        print_table(result["tasks"], title="samples by model and task")


@store_app.command("query")
def query(
    sql: Annotated[
        str,
        typer.Argument(
            help="SQL over tables models, runs, samples, "
            "sample_metrics, battles and the view scores."
        ),
    ],
    store: StoreOption = None,
    json_out: JsonOption = False,
) -> None:
    """Run read-only SQL against the store (it is a plain DuckDB file: any DuckDB client can
    also write to it)."""
    import duckdb

    try:
        df = get_store(store, must_exist=True).sql(sql, read_only=True)
    except duckdb.Error as exc:
        raise InputError(str(exc).strip().splitlines()[0]) from None
    if not json_printed(json_out, df):
        print_table(df, digits=6)


@store_app.command("label-free")
def label_free(
    models: Annotated[str | None, typer.Option("--models", help="Comma-separated models.")] = None,
    task: Annotated[str | None, typer.Option("--task", help="Comma-separated tasks.")] = None,
    store: StoreOption = None,
    json_out: JsonOption = False,
) -> None:
    """Add Matrix Nuclear-Norm (L1,2 and exact) and Matrix Entropy of each multiple-choice
    run's answer distributions to its samples, so compare, rank and the report read them
    (docs/literature_metrics.md)."""
    result = add_label_free_metrics(
        get_store(store, must_exist=True), split_list(models), split_list(task)
    )
    if json_printed(json_out, result):
        return
    console.print(f"{result['samples']} samples in {result['runs']} runs scored")
    print_table(result["values"], title="label-free metrics per run")


@store_app.command("merge")
def merge(
    inputs: Annotated[
        list[Path], typer.Argument(help="Stores to merge (shards, machines; never modified).")
    ],
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="The merged store (an existing one is merged into)."),
    ],
    json_out: JsonOption = False,
) -> None:
    """Merge stores into one: samples, metrics, runs (shards of a run become one run), model
    metadata and battles. Idempotent; two stores that disagree about a sample are one line and
    nothing is written."""
    with progress_bar("merging stores") as update:
        result = merge_stores(inputs, output, progress=update)
    if json_printed(json_out, result):
        return
    added, total = result["added"], result["total"]
    console.print(
        f"merged {len(result['inputs'])} stores into {result['output']}: "
        f"+{added['samples']} samples, +{added['sample_metrics']} metric values, "
        f"+{added['runs']} runs, +{added['models']} models, +{added['battles']} battles "
        f"(now {total['samples']} samples in {total['runs']} runs)",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )


def _report_import(summary: dict, json_out: bool) -> None:
    if json_printed(json_out, summary):
        return
    present = summary.get("present", 0)
    console.print(
        f"imported {summary['samples']} samples in {summary['runs']} runs "
        f"({', '.join(summary['models'])} × {', '.join(summary['tasks'])}) from {summary['source']}"
        f": {summary['samples'] - present} new samples ({present} already in the store)",
        highlight=False,
        soft_wrap=True,
    )
    if summary.get("errored"):
        console.print(
            f"{summary['errored']} samples errored in the source and were not imported "
            "(not counted as wrong)"
        )
    if summary.get("unscored"):
        console.print(
            f"{summary['unscored']} samples had no score in the source and were skipped "
            "(what the store holds for them is kept)"
        )


def _import_command(
    importer: Callable[..., Any], what: str, path_help: str, model_help: str, doc: str
) -> Callable[..., None]:
    """The command that imports one harness's files with ``importer(store, path, model=,
    progress=)`` and prints what came in (``what`` labels the progress bar)."""

    def command(path: Path, model: str | None = None, store=None, json_out=False) -> None:
        with progress_bar(f"importing {what}") as update, store_for_writing(store) as st:
            summary = importer(st, path, model=model, progress=update)
        _report_import(summary.to_dict(), json_out)

    command.__doc__ = doc
    command.__annotations__ = {
        "path": Annotated[Path, typer.Argument(help=path_help)],
        "model": Annotated[str | None, typer.Option(help=model_help)],
        "store": StoreOption,
        "json_out": JsonOption,
        "return": None,
    }
    return command


import_app.command("lm-eval")(
    _import_command(
        import_lm_eval,
        "lm-eval files",
        "lm-eval --output_path folder (or a model folder).",
        "Model name to store (default: lm-eval's model_name).",
        "Import lm-evaluation-harness 0.4 results_*.json and samples_*.jsonl (run with "
        "--log_samples).",
    )
)
import_app.command("inspect")(
    _import_command(
        import_inspect,
        "inspect logs",
        "An inspect_ai .eval or .json log, or a folder.",
        "Model name to store (default: the log's eval.model).",
        "Import inspect_ai logs: one run per log, epochs as repeats, every scorer as a metric.",
    )
)
import_app.command("lighteval")(
    _import_command(
        import_lighteval,
        "lighteval files",
        "lighteval --output-dir, a details_*.parquet or a results_*.json.",
        "Model name to store (default: the results JSON's model_name).",
        "Import lighteval per-sample details (run with --save-details) and its results JSON.",
    )
)


def _parse_mapping(items: list[str]) -> dict[str, str]:
    mapping = {}
    for item in items:
        field, sep, column = item.partition("=")
        if not sep or not field or not column:
            raise InputError(f"--map {item!r}: use FIELD=COLUMN, e.g. --map doc_id=id")
        mapping[field.strip()] = column.strip()
    return mapping


@import_app.command("samples")
def import_samples_cmd(
    path: Annotated[Path, typer.Argument(help="A .parquet/.csv/.jsonl file or a folder of them.")],
    map_: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help="FIELD=COLUMN: which column holds model, task, doc_id, repeat, "
            "target, prediction, ... (repeatable).",
        ),
    ] = None,
    metric: Annotated[
        list[str] | None,
        typer.Option(
            help="A column to read as a metric (repeatable); metric.<name> columns always are. "
            "Without such a column, tree_edit_distance is computed from prediction and "
            "target, pate and pa_f1 from anomaly_labels and anomaly_scores "
            "(docs/literature_metrics.md)."
        ),
    ] = None,
    source: Annotated[str, typer.Option(help="Label for the runs this creates.")] = "import",
    model: Annotated[
        str | None,
        typer.Option(help="Model name of every row (over a model column or --map model=COL)."),
    ] = None,
    store: StoreOption = None,
    json_out: JsonOption = False,
) -> None:
    """Import per-sample rows from any harness (also reads back `assay export`)."""
    with progress_bar("importing sample files") as update, store_for_writing(store) as st:
        summary = import_samples(
            st,
            path,
            mapping=_parse_mapping(map_ or []),
            metrics=metric,
            source=source,
            model=model,
            progress=update,
        )
    _report_import(summary, json_out)


def export_cmd(
    directory: Annotated[Path, typer.Argument(help="Output folder.")],
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="parquet, csv, jsonl or lm-eval.")
    ] = "parquet",
    overwrite: Annotated[
        bool,
        typer.Option(
            "--overwrite",
            help="Export into a folder that is not empty: replace the files an earlier export "
            "wrote there, keep every other file.",
        ),
    ] = False,
    store: StoreOption = None,
    json_out: JsonOption = False,
) -> None:
    """Write all samples with their metrics, partitioned model=<m>/task=<t>/ (a new or empty
    folder, or --overwrite). lm-eval: results_<date>.json and samples_<task>_<date>.jsonl."""
    if fmt not in ("parquet", "csv", "jsonl", "lm-eval"):
        raise InputError(f"unknown export format {fmt!r}: use one of parquet, csv, jsonl, lm-eval")
    opened = get_store(store, must_exist=True)
    if fmt == "lm-eval":
        count = export_lm_eval(opened, directory, overwrite=overwrite)
    else:
        count = export_samples(opened, directory, fmt=fmt, overwrite=overwrite)
    if json_out:
        print_json({"directory": str(directory), "format": fmt, "samples": count})
    else:
        console.print(f"wrote {count} samples to {directory} ({fmt}, partitioned by model/task)")


@models_app.command("set-meta")
def set_meta(
    path: Annotated[
        Path,
        typer.Argument(
            help="CSV/JSONL/Parquet with model, params, tokens, flops, family, date, step, parent."
        ),
    ],
    store: StoreOption = None,
    json_out: JsonOption = False,
) -> None:
    """Add or update model metadata (sizes, data, compute, dates) used by forecasts."""
    with store_for_writing(store) as st:
        count = set_model_meta(st, path)
    if json_out:
        print_json({"models": count})
    else:
        console.print(f"updated metadata of {count} models")


@models_app.command("list")
def list_models(store: StoreOption = None, json_out: JsonOption = False) -> None:
    """List the models in the store with their metadata."""
    df = get_store(store, must_exist=True).models()
    if not json_printed(json_out, df):
        print_table(df.drop(columns=["extra"]), title="models")


def register(app: typer.Typer) -> None:
    """Add this part's commands to the main app."""
    app.add_typer(store_app, name="store")
    app.add_typer(import_app, name="import")
    app.add_typer(models_app, name="models")
    app.command("export")(export_cmd)
