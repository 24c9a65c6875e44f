"""How ``assay --help`` is laid out: the command groups (Rich help panels) and one example per
command, set in one place after every part has registered its commands."""

from __future__ import annotations

import typer
from typer.core import TyperGroup
from typer.main import get_command_name

__all__ = ["PANELS", "EXAMPLES", "organise", "panels"]

# Top-level command -> its panel in `assay --help`, in the order the panels are shown.
PANELS: dict[str, str] = {
    "eval": "Run",
    "tasks": "Run",
    "compare": "Compare",
    "flips": "Compare",
    "power": "Compare",
    "variance": "Compare",
    "breakdown": "Compare",
    "robustness": "Compare",
    "reliability": "Compare",
    "bias": "Diagnose",
    "items": "Diagnose",
    "calibration": "Diagnose",
    "efficiency": "Diagnose",
    "fairness": "Diagnose",
    "fairness-probes": "Diagnose",
    "order-stability": "Diagnose",
    "rank": "Rank",
    "arena": "Rank",
    "judge": "Rank",
    "forecast": "Forecast",
    "import": "Data",
    "store": "Data",
    "models": "Data",
    "export": "Data",
    "report": "Report & serve",
    "serve": "Report & serve",
}
_ORDER = list(dict.fromkeys(PANELS.values()))

# Command path -> one example (a full command line a newcomer can copy).
EXAMPLES: dict[str, str] = {
    "": "assay eval --model smollm2-135m --task arith_mc --limit 100, then assay compare",
    "eval": "assay eval --model smollm2-135m --task arith_mc --limit 100",
    "tasks": "assay tasks show arith_mc -n 3",
    "tasks list": "assay tasks list --all",
    "tasks show": "assay tasks show arith_mc -n 3",
    "compare": "assay compare --task arith_mc --models small,big --json",
    "flips": "assay flips --old v1 --new v2 --task arith_mc --ids",
    "power": "assay power --models small,big --task arith_mc",
    "variance": "assay variance --model small --task arith_mc",
    "breakdown": "assay breakdown --by difficulty --task arith_mc",
    "robustness": "assay robustness --task arith_mc --models small,big",
    "reliability": "assay reliability --task arith_mc --models small,big",
    "bias": "assay bias --model small --task arith_mc",
    "items": "assay items --task arith_mc --flagged",
    "calibration": "assay calibration --task arith_mc --bins 15",
    "efficiency": "assay efficiency --model small --task arith_gen",
    "fairness": "assay fairness --task probes --weights gender=2,age=1",
    "fairness-probes": "assay fairness-probes probes.yaml --axes gender,age --variants 3",
    "order-stability": "assay order-stability --task arith_mc --metric acc",
    "rank": "assay rank battles arena.jsonl --bootstrap 200",
    "rank battles": "assay rank battles arena.jsonl --bootstrap 200 --seed 1",
    "rank samples": "assay rank samples --method irt",
    "rank stability": "assay rank stability --source battles",
    "arena": "assay arena tournament outputs.jsonl --judge smollm2-135m",
    "arena tournament": "assay arena tournament outputs.jsonl --judge smollm2-135m",
    "judge": "assay judge pairwise outputs.jsonl --judge smollm2-135m",
    "judge pairwise": "assay judge pairwise outputs.jsonl --judge smollm2-135m --baseline small",
    "judge pointwise": "assay judge pointwise outputs.jsonl --judge smollm2-135m",
    "judge position": "assay judge position --judge smollm2-135m",
    "judge lc-winrate": "assay judge lc-winrate --baseline small --judge smollm2-135m",
    "judge agreement": "assay judge agreement --judge smollm2-135m --votes votes.jsonl",
    "judge self-preference": "assay judge self-preference --judge smollm2-135m --family smollm",
    "forecast": "assay forecast fit points.csv --law chinchilla",
    "forecast fit": "assay forecast fit points.csv --law chinchilla",
    "forecast predict": "assay forecast predict points.csv --law power --x flops --at-x 1e24",
    "forecast backtest": "assay forecast backtest points.csv --holdout-above 1e21 --on flops",
    "forecast downstream": (
        "assay forecast downstream points.csv --x flops --y score --loss loss --floor 0.25 --at 1e24"
    ),
    "forecast density": "assay forecast density models.csv --reference-family llama --floor 0.25",
    "forecast trend": "assay forecast trend store --x params --y score",
    "forecast observational": (
        "assay forecast observational scores.csv --benchmarks MMLU,HellaSwag --target ARC-C"
    ),
    "forecast cod": "assay forecast cod items.csv --at 1e23 --x flops --floor 0.25",
    "forecast passuntil": "assay forecast passuntil trials.csv --at 1e10",
    "forecast on-the-line": "assay forecast on-the-line scores.csv --id id_acc --ood ood_acc",
    "import": "assay import lm-eval results/",
    "import lm-eval": "assay import lm-eval results/",
    "import inspect": "assay import inspect logs/",
    "import lighteval": "assay import lighteval outputs/",
    "import samples": "assay import samples rows.csv --map model=system --map doc_id=item",
    "import battles": "assay import battles arena.jsonl",
    "store": "assay store info",
    "store info": "assay store info --json",
    "store query": 'assay store query "SELECT model, count(*) FROM samples GROUP BY ALL"',
    "store merge": "assay store merge shard-1.duckdb shard-2.duckdb -o all.duckdb",
    "store label-free": "assay store label-free --json",
    "models": "assay models list",
    "models list": "assay models list --json",
    "models set-meta": "assay models set-meta models.csv",
    "export": "assay export out/ --format parquet",
    "report": "assay report --store runs.duckdb -o report.html",
    "serve": "assay serve --store runs.duckdb --port 8765",
}


class _Grouped(TyperGroup):
    """Lists the commands panel by panel, so `assay --help` shows the panels in workflow order."""

    def list_commands(self, ctx):  # type: ignore[override]
        names = super().list_commands(ctx)
        rank = {panel: i for i, panel in enumerate(_ORDER)}
        return sorted(names, key=lambda n: rank.get(PANELS.get(n, ""), len(rank)))


def _example(path: str) -> str | None:
    text = EXAMPLES.get(path)
    return f"Example: {text}" if text else None


def _name(info) -> str:
    if info.name:
        return info.name
    return get_command_name(info.callback.__name__)


def _commands(sub: typer.Typer, prefix: str) -> None:
    from ._options import add_format_option

    for info in sub.registered_commands:
        info.callback = add_format_option(info.callback)
        info.epilog = info.epilog or _example(f"{prefix}{_name(info)}")
    for group in sub.registered_groups:
        name = group.name or group.typer_instance.info.name
        group.epilog = _example(f"{prefix}{name}")
        _commands(group.typer_instance, f"{prefix}{name} ")


def organise(app: typer.Typer) -> None:
    """Put each top-level command in its panel, give every command its example and every
    command that prints ``--json`` the ``--format csv|tsv|markdown`` of its tables."""
    panels(app)
    _commands(app, "")


def panels(app: typer.Typer) -> None:
    """Put each top-level command in its panel, in workflow order, with the top example."""
    app.info.cls = _Grouped
    app.info.epilog = _example("")
    for info in app.registered_commands:
        info.rich_help_panel = PANELS.get(_name(info), info.rich_help_panel)
    for group in app.registered_groups:
        name = group.name or group.typer_instance.info.name
        group.rich_help_panel = PANELS.get(name, group.rich_help_panel)
