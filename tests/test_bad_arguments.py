"""Arguments that used to give silent nonsense (nan, a model compared with itself, an option
ignored, null read as the text "None", the default model for ``-m ''``, pinned parameters with
zero-width intervals, a perturbation that changes nothing) are one-line errors that change
nothing (issue 29)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_helpers import run_main

from assay.store import RunInfo, SampleRecord, Store


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("args")
    rng = np.random.default_rng(0)
    items = pd.DataFrame(
        [
            {"model": f"m{k}", "flops": 10.0 ** (18 + k), "item": f"i{i}", "score": rng.random()}
            for k in range(6)
            for i in range(30)
        ]
    )
    items.to_csv(d / "items.csv", index=False)
    obs = pd.DataFrame(
        {
            "model": [f"m{k}" for k in range(12)],
            "family": ["a", "b"] * 6,
            "flops": 10.0 ** np.linspace(20, 24, 12),
            **{f"b{j}": rng.random(12) for j in range(3)},
            "target": rng.random(12),
        }
    )
    obs.to_csv(d / "obs.csv", index=False)
    n = 10.0 ** np.linspace(6, 9, 8)
    d_tok = np.tile([2e9, 2e10], 4) * n / 1e6
    huge = pd.DataFrame({"params": n * 1e292, "tokens": d_tok, "loss": 2 + 400 * n**-0.3})
    huge.to_csv(d / "huge.csv", index=False)  # params up to 1e301
    rows = [
        {
            "prompt_id": p,
            "prompt": f"q{p}",
            "model": m,
            "output": None if (p, m) == (1, "b") else "x",
        }
        for p in range(3)
        for m in ("a", "b")
    ]
    (d / "outputs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    store = Store(d / "s.duckdb")
    for model in ("a", "b"):
        store.upsert_run(RunInfo(run_id=f"r-{model}", model=model, task="t", source="assay"))
        store.write_samples(
            [
                SampleRecord(
                    run_id=f"r-{model}",
                    model=model,
                    task="t",
                    doc_id=f"d{i}",
                    metrics={"acc": float(rng.random() < 0.6)},
                    difficulty=float(i % 3),
                )
                for i in range(30)
            ]  # fmt: skip
        )
    return {p.stem: p for p in d.iterdir()} | {"dir": d}


CASES = {
    "cod-at": (["forecast", "cod", "{items}", "--at", "-1"], "target x -1.0: must be a finite"),
    "cod-at-nan": (["forecast", "cod", "{items}", "--at", "nan"], "target x nan"),
    "breakdown-self": (["breakdown", "--store", "{s}", "--pair", "a,a"], "two different models"),
    "calibration-self": (
        ["calibration", "--store", "{s}", "--compare", "b,b", "-t", "t"],
        "two different models",
    ),
    "components": (
        [
            "forecast",
            "observational",
            "{obs}",
            "--benchmarks",
            "b0,b1,b2",
            "--target",
            "target",
            "--components",
            "10",
        ],
        "n_components 10: must be a whole number from 1 to the number of benchmarks (3)",
    ),  # fmt: skip
    "judge-null": (
        ["judge", "pairwise", "{outputs}", "--judge", "hf:nowhere", "--store", "{s}"],
        "row 4: field 'output' is null or missing",
    ),
    "empty-model": (["eval", "-m", "", "-t", "arith_mc", "--store", "{s}"], "empty model spec"),
    "law-huge": (
        ["forecast", "fit", "{huge}", "--law", "chinchilla", "--y", "loss"],
        "outside what its parameters can represent",
    ),
    "labels-gen": (
        ["eval", "-m", "hf:nowhere", "-t", "arith_gen", "--perturb", "labels", "--store", "{s}"],
        "task 'arith_gen' (generate) has no choices",
    ),
}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_argument_is_one_line_and_changes_nothing(files, case):
    argv, message = CASES[case]
    before = _sha(files["s"])
    listing = sorted(p.name for p in files["dir"].iterdir())
    code, out, err = run_main([a.format(**{k: str(v) for k, v in files.items()}) for a in argv])
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 1 and "Traceback" not in err, err
    assert message in lines[0], lines[0]
    assert _sha(files["s"]) == before and sorted(p.name for p in files["dir"].iterdir()) == listing
