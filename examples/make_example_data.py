"""Write the small example files the README's quick tour uses (examples/data/), all generated
here from fixed seeds: no benchmark data from elsewhere.

    python examples/make_example_data.py [--out examples/data]

- ``sums.yaml`` + ``sums.jsonl``: an lm-eval-style YAML task of two-digit sums.
- ``rows.csv``: per-item results of three systems (columns system, task, item, correct).
- ``models.csv``: their metadata (params, family, release date).
- ``arena.jsonl``: 600 pairwise votes among five models drawn from known Bradley–Terry strengths.
- ``outputs.jsonl``: three models' answers to six prompts, for a judged tournament.
- ``runs.csv``: 40 training runs whose loss follows Chinchilla's published law
  L = 1.69 + 406.4 / N^0.34 + 410.7 / D^0.28 (Hoffmann et al. 2022) with 1% noise.
- ``downstream.csv``: a model family's accuracy on a 4-choice task by size.
- ``lm-eval/``: the systems of ``rows.csv`` (as task quiz_lm) exported in
  lm-evaluation-harness's file format (written by ``assay export --format lm-eval``).
- ``inspect/``: two inspect_ai logs (written by tests/support/make_inspect_logs.py) are kept
  beside these files; this script does not touch them.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent


def sums_task(out: Path) -> None:
    rng = np.random.default_rng(1)
    rows = []
    for _ in range(40):
        a, b = (int(v) for v in rng.integers(10, 90, size=2))
        choices = [a + b, a + b + 1, a + b - 10, a + b + 10]
        rng.shuffle(choices)
        rows.append(
            {"question": f"{a} + {b} =", "choices": [str(c) for c in choices],
             "label": choices.index(a + b)}
        )  # fmt: skip
    (out / "sums.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (out / "sums.yaml").write_text(
        "task: sums\n"
        "dataset_path: json\n"
        "dataset_kwargs:\n  data_files:\n    test: sums.jsonl\n"
        "test_split: test\n"
        "output_type: multiple_choice\n"
        'doc_to_text: "Q: {{question}}\\nA:"\n'
        "doc_to_target: label\n"
        "doc_to_choice: '{{choices}}'\n"
        "metric_list:\n  - metric: acc\n"
        "metadata:\n  version: 1.0\n"
    )


SYSTEMS = {"tiny-a": 0.55, "tiny-b": 0.62, "tiny-c": 0.7}


def rows_and_models(out: Path) -> None:
    rng = np.random.default_rng(2)
    items = 80
    easy = rng.normal(0, 1, size=items)
    frames = []
    for system, skill in SYSTEMS.items():
        p = 1 / (1 + np.exp(-(np.log(skill / (1 - skill)) + easy)))
        frames.append(
            pd.DataFrame({"system": system, "task": "quiz",
                          "item": [f"q{i:03d}" for i in range(items)],
                          "correct": (rng.random(items) < p).astype(int)})
        )  # fmt: skip
    pd.concat(frames).to_csv(out / "rows.csv", index=False)
    pd.DataFrame(
        {"model": list(SYSTEMS), "params": [1.2e8, 3.5e8, 1.0e9], "family": "tiny",
         "release_date": ["2026-01-15", "2026-04-01", "2026-07-20"],
         "parent": [None, "tiny-a", "tiny-b"]}
    ).to_csv(out / "models.csv", index=False)  # fmt: skip


def arena(out: Path) -> None:
    rng = np.random.default_rng(3)
    names = ["model-a", "model-b", "model-c", "model-d", "model-e"]
    strength = np.array([0.0, 0.3, 0.5, 0.9, 1.4])
    lines = []
    for k in range(600):
        i, j = rng.choice(len(names), size=2, replace=False)
        p = 1 / (1 + np.exp(strength[j] - strength[i]))
        u = rng.random()
        winner = "tie" if abs(u - p) < 0.05 else ("model_a" if u < p else "model_b")
        lines.append(
            json.dumps({"model_a": names[i], "model_b": names[j], "winner": winner,
                        "prompt_id": f"p{k % 120}"})
        )  # fmt: skip
    (out / "arena.jsonl").write_text("\n".join(lines) + "\n")


def outputs(out: Path) -> None:
    prompts = [(f"What is {a} + {b}?", a + b) for a, b in
               [(12, 7), (31, 45), (8, 9), (56, 21), (14, 14), (70, 13)]]  # fmt: skip
    lines = []
    for k, (prompt, answer) in enumerate(prompts):
        for model, answer_text in (
            ("careful", f"{answer}."),
            ("sloppy", f"{answer + (k % 3)}."),
            ("verbose", f"Let me think. The answer is {answer}."),
        ):
            lines.append(
                json.dumps({"prompt_id": f"p{k}", "prompt": prompt, "model": model,
                            "output": answer_text})
            )  # fmt: skip
    (out / "outputs.jsonl").write_text("\n".join(lines) + "\n")


def chinchilla_runs(out: Path) -> None:
    rng = np.random.default_rng(4)
    params = np.geomspace(4e7, 1.6e10, 8)
    rows = []
    for n in params:
        for ratio in (5, 10, 20, 40, 80):
            d = n * ratio
            loss = 1.69 + 406.4 / n**0.34 + 410.7 / d**0.28
            rows.append({"params": n, "tokens": d, "flops": 6 * n * d,
                         "loss": loss * (1 + 0.01 * rng.normal())})  # fmt: skip
    pd.DataFrame(rows).to_csv(out / "runs.csv", index=False)


def downstream(out: Path) -> None:
    rng = np.random.default_rng(5)
    params = np.geomspace(7e7, 1.2e10, 8)
    error = 0.75 * (params / 7e7) ** -0.18  # error rate above chance shrinks as a power law
    score = 1 - error + 0.01 * rng.normal(size=params.size)
    pd.DataFrame(
        {"model": [f"fam-{p / 1e9:.2g}b" for p in params], "params": params,
         "score": score.clip(0.25, 1)}
    ).to_csv(out / "downstream.csv", index=False)  # fmt: skip


def lm_eval_folder(out: Path) -> None:
    """``rows.csv`` imported into a scratch store, then exported by assay in lm-eval's format."""
    import shutil

    from typer.testing import CliRunner

    from assay.cli import app

    runner = CliRunner()
    with tempfile.TemporaryDirectory() as tmp:
        store = str(Path(tmp) / "s.duckdb")
        rows = pd.read_csv(out / "rows.csv").assign(task="quiz_lm")  # another task than rows.csv
        rows.to_csv(Path(tmp) / "rows.csv", index=False)
        for args in (
            ["import", "samples", str(Path(tmp) / "rows.csv"), "--map", "model=system",
             "--map", "doc_id=item", "--metric", "correct", "--store", store],
            ["export", str(Path(tmp) / "lm"), "--format", "lm-eval", "--store", store],
        ):  # fmt: skip
            result = runner.invoke(app, args)
            if result.exit_code != 0:
                raise SystemExit(f"assay {' '.join(args[:2])}: {result.output}")
        target = out / "lm-eval"
        if target.exists():
            shutil.rmtree(target)  # this script's own output
        shutil.copytree(Path(tmp) / "lm", target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "data")
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    for write in (sums_task, rows_and_models, arena, outputs, chinchilla_runs, downstream):
        write(out)
    lm_eval_folder(out)
    print(f"wrote {len(list(out.rglob('*')))} files under {out}")


if __name__ == "__main__":
    main()
