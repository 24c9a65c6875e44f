"""A local lm-evaluation-harness 0.4 task: JSON rows and the YAML that reads them — one home for
the tests and benchmarks that run lm-eval beside assay on the same generated questions
(tests/runner/test_lm_eval_agreement.py, benchmarks/mc_throughput.py,
benchmarks/generation_speed.py)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

_HEAD = """task: {name}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
"""
#: Rows {"question", "choices", "label"}: log-likelihood of each choice, acc and acc_norm.
MULTIPLE_CHOICE = """output_type: multiple_choice
doc_to_text: "{{{{question}}}}"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: label
metric_list:
  - metric: acc
  - metric: acc_norm
"""
#: Rows {"question", "answer"}: greedy generation up to a stop string, exact match.
GENERATE_UNTIL = """output_type: generate_until
doc_to_text: "{{{{question}}}}"
doc_to_target: "{{{{answer}}}}"
generation_kwargs:
  until: {until}
  max_gen_toks: {max_new}
  do_sample: false
metric_list:
  - metric: exact_match
"""


def write_lm_eval_task(
    folder: Path,
    name: str,
    records: list[dict],
    *,
    until: Sequence[str] | None = None,
    max_new_tokens: int | None = None,
) -> Path:
    """``folder/name.json`` (one row a line) and ``folder/name.yaml``; a multiple-choice task,
    or with ``until`` a generate_until task of ``max_new_tokens``. Returns the YAML's path."""
    data = folder / f"{name}.json"
    data.write_text("\n".join(json.dumps(r) for r in records))
    if until is None:
        text = (_HEAD + MULTIPLE_CHOICE).format(name=name, data=data)
    else:
        body = _HEAD + GENERATE_UNTIL
        text = body.format(
            name=name, data=data, until=json.dumps(list(until)), max_new=max_new_tokens
        )
    path = folder / f"{name}.yaml"
    path.write_text(text)
    return path
