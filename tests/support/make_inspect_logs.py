"""Write the inspect_ai log fixtures under tests/data/inspect/ (needs ``pip install inspect_ai``).

Runs a tiny arithmetic task of our own offline against scripted models: ``mockllm/model`` and a
second scripted model registered as ``scripted/weak`` (a MockLLM subclass, so there are two
model names). Epochs = 2; one scorer of each kind inspect has (C/I letters, C/P/I/N letters, a
number, a dict). One sample of the weak model errors once (``fail_on_error=False``: the run
succeeds with an errored sample), and a third run stops on an error (status "error") after some
samples finished. Each log is written as ``.eval`` (zip) and ``.json``. Token usage is given
with every output, and token counting is stubbed, so nothing is downloaded.

    python tests/support/make_inspect_logs.py   # rewrites tests/data/inspect/
"""

from __future__ import annotations

import json
import shutil
import sys
import zipfile
from pathlib import Path

from inspect_ai import Task, eval
from inspect_ai.dataset import Sample
from inspect_ai.log import read_eval_log, write_eval_log
from inspect_ai.model import ModelOutput, ModelUsage, get_model, modelapi
from inspect_ai.model._model import ModelAPI
from inspect_ai.model._providers.mockllm import MockLLM
from inspect_ai.scorer import (
    CORRECT,
    INCORRECT,
    NOANSWER,
    PARTIAL,
    Score,
    Target,
    accuracy,
    match,
    mean,
    scorer,
    stderr,
)
from inspect_ai.solver import TaskState

OUT = Path(__file__).resolve().parents[1] / "data" / "inspect"

QUESTIONS = {  # id: (question, answer)
    "q1": ("What is 2+3?", "5"),
    "q2": ("What is 7*6?", "42"),
    "q3": ("What is 10-4?", "6"),
    "q4": ("What is 9+9?", "18"),
    "q5": ("What is 3*3?", "9"),
    "q6": ("What is 100/4?", "25"),
}
# per model, per question: the answers of epoch 1 and epoch 2 ("" = no answer)
SCRIPTS = {
    "mockllm/model": {
        "q1": ["5", "5"], "q2": ["42", "41"], "q3": ["6", "6"],
        "q4": ["18", "18"], "q5": ["9", "9"], "q6": ["25", "24"],
    },
    "scripted/weak": {
        "q1": ["5", "6"], "q2": ["41", "41"], "q3": ["6", ""],
        "q4": ["18", "17"], "q5": ["8", "9"], "q6": ["ERROR", "25"],
    },
}  # fmt: skip


def _scripted(model: str, fail_on: str | None = "ERROR"):
    calls: dict[str, int] = {}

    def generate(input, tools, tool_choice, config) -> ModelOutput:
        text = input[-1].text
        qid = next(k for k, (q, _) in QUESTIONS.items() if q in text)
        n = calls.get(qid, 0)
        calls[qid] = n + 1
        answer = SCRIPTS[model][qid][min(n, 1)]
        if fail_on is not None and answer == fail_on:
            raise RuntimeError(f"scripted failure on {qid}")
        out = ModelOutput.from_content(model=model, content=f"ANSWER: {answer}")
        out.usage = ModelUsage(
            input_tokens=len(text.split()) + 3,
            output_tokens=len(answer) + 1,
            total_tokens=len(text.split()) + len(answer) + 4,
        )
        return out

    return generate


@modelapi(name="scripted")
def _scripted_api() -> type[ModelAPI]:
    return MockLLM


@scorer(metrics=[accuracy(), stderr()])
def graded():
    """C exact, P off by one, N no answer, else I."""

    async def score(state: TaskState, target: Target) -> Score:
        got = state.output.completion.removeprefix("ANSWER:").strip()
        if not got:
            return Score(value=NOANSWER, answer=got)
        if got == target.text:
            return Score(value=CORRECT, answer=got)
        if abs(float(got) - float(target.text)) <= 1:
            return Score(value=PARTIAL, answer=got)
        return Score(value=INCORRECT, answer=got)

    return score


@scorer(metrics=[mean(), stderr()])
def closeness():
    """A number: 1 / (1 + |answer - target|), 0 without an answer."""

    async def score(state: TaskState, target: Target) -> Score:
        got = state.output.completion.removeprefix("ANSWER:").strip()
        value = 1.0 / (1.0 + abs(float(got) - float(target.text))) if got else 0.0
        return Score(value=value, answer=got)

    return score


@scorer(metrics={"exact": [mean(), stderr()], "chars": [mean()]})
def parts():
    """A dict score: exact (0/1) and the answer's length."""

    async def score(state: TaskState, target: Target) -> Score:
        got = state.output.completion.removeprefix("ANSWER:").strip()
        return Score(value={"exact": float(got == target.text), "chars": len(got)}, answer=got)

    return score


def arith() -> Task:
    dataset = [
        Sample(id=k, input=q, target=a, metadata={"op": q.split()[-1][1]})
        for k, (q, a) in QUESTIONS.items()
    ]
    return Task(
        name="arith",
        dataset=dataset,
        scorer=[match(), graded(), closeness(), parts()],
        epochs=2,
        version=1,
    )


async def _no_count(self, input, tools=None, config=None):  # token counting downloads a file
    return 1


def _run(model: str, folder: Path, *, fail_on_error: bool | float, fail_on: str | None) -> Path:
    m = get_model(model, custom_outputs=_scripted(model, fail_on), memoize=False)
    logs = eval(
        arith(),
        model=m,
        log_dir=str(folder),
        log_format="eval",
        fail_on_error=fail_on_error,
        max_samples=1,
        max_connections=1,
        retry_on_error=0,
        display="none",
        temperature=0.0,
        max_tokens=16,
        score_display=False,
    )
    return Path(logs[0].location.removeprefix("file://"))


def _deflate(src: Path, dst: Path) -> None:
    import inspect_ai._util.zipfile  # noqa: F401  (teaches zipfile to read zstd)

    dst.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info.filename))


def main() -> None:
    ModelAPI.count_tokens = _no_count  # type: ignore[method-assign]
    shutil.rmtree(OUT, ignore_errors=True)
    tmp = OUT / "_tmp"
    made: list[tuple[str, Path]] = []
    made.append(("mock", _run("mockllm/model", tmp, fail_on_error=False, fail_on=None)))
    made.append(("weak", _run("scripted/weak", tmp, fail_on_error=False, fail_on="ERROR")))
    made.append(("stopped", _run("scripted/weak", tmp, fail_on_error=True, fail_on="ERROR")))
    for name, path in made:
        log = read_eval_log(str(path))
        sub = "errored" if name == "stopped" else "runs"
        for fmt in ("eval", "json"):
            target = OUT / sub / fmt / f"arith_{name}.{fmt}"
            target.parent.mkdir(parents=True, exist_ok=True)
            if fmt == "json":  # the event timeline is 95% of a .json log: keep fixtures small
                for sample in log.samples or []:
                    sample.events = []
            write_eval_log(log, str(target), format=fmt)
        if name == "mock":  # older inspect wrote deflate, as Python < 3.14 reads without zstd
            _deflate(OUT / sub / "eval" / f"arith_{name}.eval", OUT / "deflate" / "arith_mock.eval")
        print(f"{name}: status {log.status}, {len(log.samples or [])} samples", file=sys.stderr)
    shutil.rmtree(tmp)
    # inspect's own numbers, for the tests to compare against
    expected = {}
    for name, _ in made:
        sub = "errored" if name == "stopped" else "runs"
        log = read_eval_log(str(OUT / sub / "json" / f"arith_{name}.json"))
        if log.results is None:
            continue
        expected[f"{log.eval.model} {log.eval.task}"] = {
            s.name: {k: v.value for k, v in s.metrics.items()} for s in log.results.scores
        }
    (OUT / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
