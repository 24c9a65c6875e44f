"""A store the tests generate: 4 models × 2 tasks of synthetic multiple-choice answers with
known accuracies, model sizes, a parent/child pair, and Bradley–Terry-simulated battles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from assay.store import Store, make_run_id

MODELS = {  # name: (accuracy on "arith", accuracy on "facts", params)
    "tiny-10m": (0.35, 0.30, 1.0e7),
    "small-100m": (0.50, 0.45, 1.0e8),
    "base-1b": (0.68, 0.60, 1.0e9),
    "large-10b": (0.80, 0.74, 1.0e10),
    "xl-30b": (0.84, 0.79, 3.0e10),
}
CHOICES = ["A", "B", "C", "D"]


def make_store(
    path,
    *,
    n_docs: int = 120,
    seed: int = 7,
    battles: int = 300,
    sizes: bool = True,
    repeats: int = 1,
) -> Store:
    """Write the synthetic store at ``path`` and return it."""
    rng = np.random.default_rng(seed)
    store = Store(path)
    records = []
    for t, task in enumerate(["arith", "facts"]):
        targets = rng.integers(0, 4, n_docs)
        easy = rng.normal(0, 1, n_docs)  # shared difficulty: answers correlate across models
        for name, spec in MODELS.items():
            acc = spec[t]
            p = 1 / (1 + np.exp(-(np.log(acc / (1 - acc)) + 0.8 * easy)))
            run_id = make_run_id(name, task)
            store.upsert_run({"run_id": run_id, "model": name, "task": task})
            for i in (r * n_docs + j for r in range(repeats) for j in range(n_docs)):
                if i % n_docs == 0:  # a fresh draw of answers per repeat
                    correct = rng.random(n_docs) < p
                    wrong = (targets + rng.integers(1, 4, n_docs)) % 4
                    chosen = np.where(correct, targets, wrong)
                repeat, i = divmod(i, n_docs)
                records.append(
                    {
                        "run_id": run_id,
                        "model": name,
                        "task": task,
                        "repeat": repeat,
                        "doc_id": f"{task}-{i:03d}",
                        "prompt": f"Question {i} of {task}: which letter? <b>{i}</b>",
                        "target": CHOICES[targets[i]],
                        "prediction": CHOICES[chosen[i]],
                        "chosen_position": int(chosen[i]),
                        "choice_order": [0, 1, 2, 3],
                        "metrics": {"acc": float(correct[i])},
                    }
                )
    store.write_samples(records)
    meta = [
        {"model": m, "params": spec[2], "tokens": 20 * spec[2], "flops": 120 * spec[2] ** 2}
        for m, spec in MODELS.items()
    ]
    meta[3]["parent"] = "base-1b"
    if sizes:
        store.upsert_models(meta)
    if battles:
        names = list(MODELS)
        strength = np.array([0.0, 0.5, 1.0, 1.6, 1.8])
        k = len(names)
        a = rng.integers(0, k, battles)
        b = (a + rng.integers(1, k, battles)) % k
        pa = 1 / (1 + np.exp(strength[b] - strength[a]))
        u = rng.random(battles)
        winner = np.where(u < 0.1, "tie", np.where(rng.random(battles) < pa, "model_a", "model_b"))
        store.add_battles(
            pd.DataFrame(
                {
                    "model_a": np.array(names)[a],
                    "model_b": np.array(names)[b],
                    "winner": winner,
                    "judge": "sim",
                    "prompt_id": [f"p{i}" for i in range(battles)],
                }
            )
        )
    return store


@pytest.fixture(scope="session")
def store_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("store") / "assay.duckdb"
    make_store(path)
    return path


@pytest.fixture(scope="session")
def plain_store_path(tmp_path_factory):
    """Same answers and battles, no model sizes (no scaling fits: quick to render)."""
    path = tmp_path_factory.mktemp("plain") / "assay.duckdb"
    make_store(path, sizes=False)
    return path


@pytest.fixture(scope="session")
def report_data(store_path):
    from assay.report import build_report

    return build_report(store_path, scaling_bootstrap=2, max_docs=50)


@pytest.fixture(scope="session")
def report_file(report_data, tmp_path_factory):
    from assay.report import render_report

    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(render_report(report_data, max_docs=50), encoding="utf-8")
    return path


VARIANTS = {  # name: (accuracy on "arith_mc", on "dates_mc"), parent, quantization
    "smollm2-135m": ((0.46, 0.30), None, None),
    "smollm2-135m-int8": ((0.38, 0.29), "smollm2-135m", "int8"),
}


#: The default job's third variant (``assay eval`` with no options): the same weights with
#: three-shot prompts, its spec and few-shot setting as the runner records them.
FEWSHOT_VARIANT = {"smollm2-135m-3shot": ((0.52, 0.31), None, None)}
SPECS = {
    "smollm2-135m": "smollm2-135m",
    "smollm2-135m-int8": "smollm2-135m,quantize=int8",
    "smollm2-135m-3shot": "smollm2-135m,name=smollm2-135m-3shot",
}


def make_variant_store(
    path, *, n_docs: int = 150, orderings: int = 2, seed: int = 11, fewshot: bool = False
) -> Store:
    """The default job's shape: a model and its int8 quantization (parent recorded), two
    4-choice tasks, each question asked under ``orderings`` choice orderings (``repeat``),
    with run settings as the runner writes them. With ``fewshot`` the whole default job: also
    the three-shot variant, and every model's spec."""
    rng = np.random.default_rng(seed)
    store = Store(path)
    records = []
    variants = {**VARIANTS, **(FEWSHOT_VARIANT if fewshot else {})}
    for t, task in enumerate(["arith_mc", "dates_mc"]):
        gold = rng.integers(0, 4, n_docs)
        easy = rng.normal(0, 1, n_docs)
        first_right = rng.random((orderings, n_docs))  # shared draws: the variant agrees often
        for name, (accs, _, quant) in variants.items():
            shots = 3 if name.endswith("3shot") else 0
            acc = accs[t]
            p = 1 / (1 + np.exp(-(np.log(acc / (1 - acc)) + 0.9 * easy)))
            settings = {"repeats": 1, "permute_choices": orderings, "backend": "hf",
                        "dtype": "float32", **({"quantization": quant} if quant else {})}  # fmt: skip
            run_id = make_run_id(name, task, num_fewshot=shots, fewshot_seed=0, settings=settings)
            store.upsert_run(
                {"run_id": run_id, "model": name, "task": task, "template_id": "default",
                 "num_fewshot": shots, "fewshot_seed": 0, "settings": settings, "source": "assay"}
            )  # fmt: skip
            for order in range(orderings):
                shift = (np.arange(4) + order) % 4  # cyclic shifts of the choices
                right = (first_right[order] + 0.15 * rng.normal(size=n_docs)) < p
                wrong = (gold + rng.integers(1, 4, n_docs)) % 4
                chosen = np.where(right, gold, wrong)
                for i in range(n_docs):
                    logits = rng.normal(0, 1, 4)
                    logits[chosen[i]] += 3
                    records.append(
                        {
                            "run_id": run_id, "model": name, "task": task, "repeat": order,
                            "doc_id": f"{task}-{i:03d}", "template_id": "default",
                            "prompt": f"{task} question {i}: pick the right answer",
                            "target": CHOICES[gold[i]], "prediction": CHOICES[chosen[i]],
                            "choice_logprobs": list(np.log(np.exp(logits) / np.exp(logits).sum())),
                            "choice_order": list(map(int, shift)),
                            "chosen_position": int((chosen[i] - order) % 4),
                            "metrics": {"acc": float(right[i]), "acc_norm": float(right[i])},
                        }
                    )  # fmt: skip
    store.write_samples(records)
    store.upsert_models(
        [
            {
                "model": m,
                "params": 1.35e8,
                "parent": parent,
                "family": "smollm2",
                **({"spec": SPECS[m]} if fewshot else {}),
            }
            for m, (_, parent, _) in variants.items()
        ]  # fmt: skip
    )
    return store


@pytest.fixture(scope="session")
def variant_store_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("variants") / "assay.duckdb"
    make_variant_store(path)
    return path


@pytest.fixture(scope="session")
def default_job_store_path(tmp_path_factory):
    """The default job's three variants (full precision, int8, three-shot) on two tasks."""
    path = tmp_path_factory.mktemp("default-job") / "assay.duckdb"
    make_variant_store(path, n_docs=60, fewshot=True)
    return path
