"""CLI commands for assay.tasks: `assay tasks` (list) and `assay tasks show`."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.panel import Panel
from rich.text import Text

from assay.cli._common import bounded, console, print_json, print_table
from assay.cli._eval_options import num_fewshot_option
from assay.cli._options import DataRootOption, JsonOption, seed_option
from assay.tasks import list_tasks, load_task

AllOption = Annotated[
    bool,
    typer.Option(
        "--all", help="Also list every task, group and tag of lm-eval's registry (assay[lm-eval])."
    ),
]


def _list(as_json: bool, with_lm_eval: bool = False) -> None:
    rows = list_tasks()
    if with_lm_eval:
        from assay.runner import lm_eval_registry

        own = {r["name"] for r in rows}
        rows += [
            {
                "name": r["name"],
                "type": r["kind"],
                "size": None,
                "difficulty_levels": None,
                "difficulty_range": "",
                "templates": "",
                "source": "lm-eval",
            }
            for r in lm_eval_registry()
            if r["name"] not in own
        ]
    if as_json:
        print_json(rows)
    else:
        short = [
            {
                "name": r["name"],
                "type": r["type"].replace("loglikelihood_", "ll_"),
                "docs": r["size"],
                "levels": r["difficulty_levels"],
                "difficulty": r["difficulty_range"],
                "source": r["source"],
            }
            for r in rows
        ]
        title = "Tasks (built-in, registered" + (", lm-eval's registry)" if with_lm_eval else ")")
        print_table(short, title=title)


SHOW_CHARS = 2000
"""Characters of a prompt, target or choice the terminal view shows (``--json`` has all)."""


def _clip(text: object) -> str:
    """``text`` cut to :data:`SHOW_CHARS`, saying how much was left out."""
    text = str(text)
    if len(text) <= SHOW_CHARS:
        return text
    return f"{text[:SHOW_CHARS]}… [{len(text) - SHOW_CHARS:,} more characters; --json shows all]"


def _show(name_or_file: str, as_json: bool, data_roots: tuple[str, ...], **rendering: Any) -> None:
    """The task's first documents as rendered (``rendering``: keywords of ``Task.instances``)."""
    task = load_task(name_or_file, data_roots=data_roots)
    instances = task.instances(**rendering)
    rows = []
    for inst in instances:
        row = {
            "doc_id": inst.doc_id,
            "repeat": inst.repeat,
            "template_id": inst.template_id,
            "difficulty": inst.difficulty,
            "prompt": inst.prompt,
            "target": inst.target,
        }
        if task.request_type == "multiple_choice":
            conts = [r.continuation for r in inst.requests]
            row["continuations"] = conts
            row["target_position"] = inst.payload.target_position
            row["target"] = conts[inst.payload.target_position]
        elif task.request_type == "generate":
            req = inst.requests[0]
            row.update(
                targets=list(inst.payload.targets),
                stop=list(req.stop),
                max_new_tokens=req.max_new_tokens,
            )
        rows.append(row)
    if as_json:
        print_json(
            {
                "name": task.name,
                "version": task.version,
                "request_type": task.request_type,
                "size": len(task.docs),
                "templates": task.templates,
                "fingerprint": task.fingerprint(),
                "source": task.source,
                "instances": rows,
            }
        )
        return
    console.print(  # names, prompts and targets are text, never markup or emoji codes
        Text.assemble(
            (task.name, "bold"),
            f" v{task.version} · {task.request_type} · {len(task.docs)} docs · "
            f"templates: {', '.join(task.templates)} · fingerprint {task.fingerprint()}",
        ),
        highlight=False,
    )
    for row in rows:
        body = Text(_clip(row["prompt"]))
        if "continuations" in row:
            marks = [
                f"  {'*' if i == row['target_position'] else ' '} {_clip(repr(c))}"
                for i, c in enumerate(row["continuations"])
            ]
            body.append("\n\ncontinuations (* = target):", "dim").append("\n" + "\n".join(marks))
        elif row.get("target") is not None:
            body.append("\n\ntarget:", "dim").append(f" {_clip(repr(row['target']))}")
        title = f"doc_id {row['doc_id']} · repeat {row['repeat']} · template {row['template_id']}"
        if row["difficulty"] is not None:
            title += f" · difficulty {row['difficulty']:g}"
        console.print(Panel(body, title=Text(title), title_align="left"), highlight=False)


def register(app: typer.Typer) -> None:
    """Add this part's commands to the main app."""
    tasks_app = typer.Typer(
        help="List the built-in and registered tasks, or show a task's rendered prompts.",
        no_args_is_help=False,
    )

    @tasks_app.callback(invoke_without_command=True)
    def tasks_main(
        ctx: typer.Context, as_json: JsonOption = False, with_lm_eval: AllOption = False
    ) -> None:
        """List built-in and registered tasks: name, type, size, difficulty levels."""
        if ctx.invoked_subcommand is None:
            _list(as_json, with_lm_eval)

    @tasks_app.command("list")
    def tasks_list(as_json: JsonOption = False, with_lm_eval: AllOption = False) -> None:
        """List built-in and registered tasks (same as `assay tasks`)."""
        _list(as_json, with_lm_eval)

    @tasks_app.command("show")
    def tasks_show(
        name_or_file: Annotated[
            str,
            typer.Argument(
                help="A task name, or a file: .yaml (assay or lm-eval), .json (BIG-bench), "
                ".jsonl/.csv/.parquet data."
            ),
        ],
        n: Annotated[
            int,
            typer.Option(
                "-n", "--n", help="How many documents to show (>= 0).", callback=bounded(0)
            ),
        ] = 3,
        template: Annotated[
            str | None, typer.Option("--template", help="Template id (default: the task's).")
        ] = None,
        num_fewshot: Annotated[
            int | None, num_fewshot_option("Few-shot examples, >= 0 (default: the task's).")
        ] = None,
        seed: Annotated[int, seed_option("Few-shot/permutation seed (>= 0).")] = 0,
        permute_choices: Annotated[
            int,
            typer.Option(
                "--permute-choices", help="Show N seeded choice orderings.", callback=bounded(0)
            ),
        ] = 0,
        as_json: JsonOption = False,
        data_root: DataRootOption = None,
    ) -> None:
        """Print a task's rendered prompts with their targets."""
        _show(
            name_or_file,
            as_json,
            tuple(data_root or ()),
            limit=n,
            num_fewshot=num_fewshot,
            seed=seed,
            permute_choices=permute_choices,
            template_id=template,
        )

    app.add_typer(tasks_app, name="tasks")
