"""What ``assay --help`` lists, without importing a command's part: each top-level command's
summary (the first paragraph of its help). tests/test_cli_listing.py checks it against the
commands themselves and prints the dict to paste when a command is added or its help changes."""

__all__ = ["SUMMARIES"]

SUMMARIES: dict[str, str] = {
    "eval": "Evaluate a model on tasks; resumes where a previous identical run stopped.",
    "tasks": "List the built-in and registered tasks, or show a task's rendered prompts.",
    "compare": "Scores with intervals per model and task, and every pair of models compared.",
    "power": "Power analysis: minimum detectable effect, questions needed, or power.",
    "flips": "Update compatibility: negative/positive flip rates and NFI of --new against --old.",
    "variance": "Variance across templates, runs and repeats against the sampling variance.",
    "robustness": "Paired difference of each perturbation (TASK+NAME runs from `assay eval --perturb`) to\nthe clean score, and the worst case over perturbations per document (HELM).",
    "breakdown": "Scores per difficulty level or document group, with intervals, a permutation test that\nthe groups differ (adjusted over tasks and models) and the best-worst gap.",
    "reliability": "Right on every variant (DIA's confidence index), near miss, reliability score\n(+1 right, -2 wrong, 0 skipped) next to the mean, and model pairs on the all-right share.",
    "bias": "Position bias of a model's multiple-choice answers on one task.",
    "items": "Item analysis: per-question difficulty, discrimination and broken-item flags.",
    "fairness": "Counterfactual group differences per axis (paired over probes, repeated-measures F test)\nand the LLM Bias Index, on probes from `assay fairness-probes`. Position and label bias of\nthe same answers: `assay bias`.",
    "fairness-probes": "Write the counterfactual probe task (names, pronouns and group nouns swapped per axis);\nrun it with `assay eval -t FILE`, then `assay fairness`.",
    "order-stability": "Kendall τ of the order of model families between successive checkpoints (models with a\nfamily and a step in the models table), e.g. blank-ppl against multiple-choice accuracy.",
    "calibration": "Calibration of multiple-choice answers from the stored choice log-likelihoods.",
    "efficiency": "Throughput, latency p50/p95/p99, tokens and cost per sample and task; the runtime fit\nruntime = a + b*prompt + c*output per model (Narayanan et al. 2023).",
    "rank": "Leaderboards with confidence intervals and honest ranks.",
    "arena": "Judge tournaments between models' outputs.",
    "judge": "LLM judges for generated answers: pairwise and pointwise verdicts stored as battles, position swap, length-controlled win rate, self-preference and agreement with humans.",
    "forecast": "Forecast bigger models: fit scaling laws (chinchilla, power, kaplan), predict with intervals, two-stage downstream forecasts, capacity density, trend checks and backtests. DATA is a CSV/Parquet table, or `store` for the store's models and scores.",
    "export": "Write all samples with their metrics, partitioned model=<m>/task=<t>/ (a new or empty\nfolder, or --overwrite). lm-eval: results_<date>.json and samples_<task>_<date>.jsonl.",
    "store": "Inspect and query the result store.",
    "import": "Bring results from other harnesses into the store.",
    "models": "Models and their metadata.",
    "report": "Write one self-contained HTML report (findings, leaderboard, pairwise tests, flips,\nvariance, plots, arena, scaling forecast, what was run, answers side by side) and print\nits path. Every interval and test is at --confidence (95% by default) and each panel\nequals its command at the same --confidence, --bootstrap and --seed.",
    "serve": "Serve the report live, a JSON API (/docs) and an arena voting page (/arena).",
}
