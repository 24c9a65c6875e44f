"""`--apply-chat-template` on lm-eval's tasks sends exactly the prompts lm-eval's own code builds:
the same data through lm-eval's ``HFLM`` (a tiny random model; the prompts do not depend on its
weights) and through an assay backend carrying the same tokenizer give identical requests —
the model's chat template with its default system prompt, no leading space on the answer —
single-turn and with ``--fewshot-as-multiturn``, for log-likelihood and generation tasks.
The tokenizer and its chat template are built here (no hub)."""

from __future__ import annotations

import copy

import pytest

pytest.importorskip("lm_eval")
pytest.importorskip("datasets")
pytest.importorskip("pyarrow")
pytest.importorskip("accelerate")  # lm-eval's HFLM imports it
transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

from fake_backend import FakeBackend  # noqa: E402

from assay.errors import InputError  # noqa: E402
from assay.requests import GenerateRequest, LoglikelihoodRequest  # noqa: E402
from assay.runner import LmEvalOptions, run_lm_eval_tasks  # noqa: E402
from assay.store import open_store  # noqa: E402

from .test_lm_eval_by_name import write_arc, write_gsm8k  # noqa: E402

DEFAULT_SYSTEM = "You are a careful assistant."
TEMPLATE = (
    "{% if messages[0]['role'] == 'system' %}{% set system = messages[0]['content'] %}"
    "{% set messages = messages[1:] %}{% else %}{% set system = '" + DEFAULT_SYSTEM + "' %}"
    "{% endif %}<|system|>\n{{ system }}<|end|>\n"
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}"
    "{% if not (loop.last and m['role'] == 'assistant') %}<|end|>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


@pytest.fixture(autouse=True)
def _offline(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf_cache"))


@pytest.fixture(scope="module")
def chat_model():
    """A byte-level BPE tokenizer with a chat template, and a one-layer random GPT-2."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["<|end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(["Question: What is 1 plus 2?\nAnswer: 3 apples"], trainer)
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|end|>", chat_template=TEMPLATE
    )
    end = tokenizer.eos_token_id
    config = transformers.GPT2Config(
        n_layer=1,
        n_head=1,
        n_embd=8,
        vocab_size=len(tokenizer),
        n_positions=4096,
        bos_token_id=end,
        eos_token_id=end,
    )
    transformers.set_seed(0)
    return transformers.GPT2LMHeadModel(config).eval(), tokenizer


def _lm_evals_requests(chat_model, data, tasks, multiturn):
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM

    from assay.runner._lm_eval_tasks import local_datasets

    model, tokenizer = chat_model
    lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=4)
    with local_datasets(data):
        out = simple_evaluate(
            model=lm,
            tasks=tasks,
            num_fewshot=2,
            limit=3,
            log_samples=True,
            apply_chat_template=True,
            fewshot_as_multiturn=multiturn,
            gen_kwargs={"max_gen_toks": 4},
        )
    return {
        task: sorted(
            (s["doc_id"], tuple(map(_plain, a)))
            for s in out["samples"][task]
            for a in s["arguments"]
        )
        for task in tasks
    }


def _plain(arg):
    return tuple(sorted(arg.items())) if isinstance(arg, dict) else arg


@pytest.mark.parametrize("multiturn", [None, False])
def test_chat_template_prompts_equal_lm_evals(chat_model, tmp_path, multiturn):
    """``multiturn=None`` is lm-eval's command line with ``--apply_chat_template`` alone: its
    few-shot examples then become chat turns (``--fewshot_as_multiturn`` is on by default);
    ``False`` is ``--fewshot_as_multiturn false`` (assay: ``--no-fewshot-as-multiturn``)."""
    data = tmp_path / "data"
    write_arc(data, n_test=4)
    write_gsm8k(data)
    tasks = ["arc_easy", "gsm8k"]
    theirs = _lm_evals_requests(chat_model, data, tasks, multiturn is not False)

    fake = FakeBackend("fake-chat")
    fake.tokenizer = chat_model[1]
    store = open_store(tmp_path / "s.duckdb")
    options = LmEvalOptions(
        data_dir=str(data),
        num_fewshot=2,
        limit=3,
        apply_chat_template=True,
        fewshot_as_multiturn=multiturn,
        gen_kwargs={"max_gen_toks": 4},
    )
    run_lm_eval_tasks(fake, tasks, options, store)

    ll = sorted(
        (r.context, r.continuation) for r in fake.seen if isinstance(r, LoglikelihoodRequest)
    )
    gen = sorted(r.context for r in fake.seen if isinstance(r, GenerateRequest))
    assert ll == sorted((a[0], a[1]) for _, a in theirs["arc_easy"])
    assert gen == sorted({a[0] for _, a in theirs["gsm8k"]})  # a sample per filter there
    assert len(ll) >= 9 and len(gen) == 3
    for context, continuation in ll:
        assert context.startswith(f"<|system|>\n{DEFAULT_SYSTEM}<|end|>\n<|user|>\n")
        assert context.endswith("<|assistant|>\n")
        assert not continuation.startswith(" ")  # lm-eval drops the delimiter's space
    for context, _ in ll:
        assert context.count("<|user|>") == (1 if multiturn is False else 3)  # 2 shots as turns
    stored = store.sql("SELECT task, doc_id, prompt FROM samples")
    for task, want in theirs.items():
        prompts = dict(stored[stored.task == task].set_index("doc_id")["prompt"])
        assert prompts == {str(doc): args[0] for doc, args in want}


def test_a_template_without_a_system_turn_drops_the_description_as_lm_eval_does(
    chat_model, tmp_path
):
    """MMLU's description goes into a system turn; a template that refuses system turns (as
    Gemma's does) gets the history without it, in lm-eval's ``HFLM`` and in assay alike."""
    from .test_lm_eval_by_name import write_mmlu

    model, tokenizer = chat_model
    strict = copy.deepcopy(tokenizer)
    strict.chat_template = (
        "{% for m in messages %}{% if m['role'] == 'system' %}"
        "{{ raise_exception('System role not supported') }}{% endif %}"
        "<|{{ m['role'] }}|>\n{{ m['content'] }}<|end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
    )
    data = tmp_path / "data"
    write_mmlu(data)
    task = "mmlu_abstract_algebra"
    theirs = _lm_evals_requests((model, strict), data, [task], True)
    fake = FakeBackend("fake-chat")
    fake.tokenizer = strict
    options = LmEvalOptions(data_dir=str(data), num_fewshot=2, limit=3, apply_chat_template=True)
    run_lm_eval_tasks(fake, [task], options, open_store(tmp_path / "s.duckdb"))
    ll = sorted((r.context, r.continuation) for r in fake.seen)
    assert ll == sorted((a[0], a[1]) for _, a in theirs[task])
    assert len(ll) == 12 and all(c.startswith("<|user|>\n") for c, _ in ll)
    assert not any("multiple choice questions" in c for c, _ in ll)


def test_multiturn_needs_the_chat_template(tmp_path):
    with pytest.raises(InputError, match="--apply-chat-template"):
        run_lm_eval_tasks(
            FakeBackend("fake-a"),
            ["arc_easy"],
            LmEvalOptions(fewshot_as_multiturn=True),
            open_store(tmp_path / "s.duckdb"),
        )
