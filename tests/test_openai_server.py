"""FakeOpenAI answers the real ``openai`` client as the OpenAI API would, faults included."""

from __future__ import annotations

import asyncio
import http.client
import io
import json
import time
from collections import defaultdict

import openai
import pytest

from openmementos.answers import parse_boundary_scores, parse_memento, parse_verdict
from openmementos.resources import load_prompt
from openmementos.testing import FakeOpenAI, FaultPlan, detect_task

MESSAGES = [{"role": "system", "content": "You are a teacher."}, {"role": "user", "content": "Hello"}]


def _format(name: str) -> dict:
    return {"type": "json_schema", "json_schema": {"name": name, "schema": {}, "strict": True}}


def _scores_format(count: int) -> dict:
    schema = {"type": "object", "properties": {"scores": {"type": "array", "minItems": count, "maxItems": count}}}
    return {"type": "json_schema", "json_schema": {"name": "boundary_scores", "schema": schema}}


def _client(server: FakeOpenAI, **options) -> openai.OpenAI:
    options = {"api_key": "sk-test", "timeout": 5.0, "max_retries": 0, **options}
    return openai.OpenAI(base_url=server.base_url, **options)


@pytest.fixture
def server():
    with FakeOpenAI(record=True) as running:
        yield running


def test_chat_round_trip_returns_a_chat_completion_with_usage(server):
    reply = _client(server).chat.completions.create(model="fake-teacher", messages=MESSAGES)
    assert reply.object == "chat.completion" and reply.id and reply.created > 0
    assert reply.model == "fake-teacher"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.choices[0].message.content
    usage = reply.usage
    assert usage.prompt_tokens == len("You are a teacher.") // 4 + 1 + 2  # ceil(18/4) + ceil(5/4)
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert usage.prompt_tokens_details.cached_tokens == 0
    again = _client(server).chat.completions.create(model="fake-teacher", messages=MESSAGES)
    assert again.usage.prompt_tokens_details.cached_tokens == 5  # the system message was seen
    assert server.stats.total == 2 and server.stats.outcomes["ok"] == 2
    assert server.stats.models["fake-teacher"] == 2
    assert server.stats.requests[0]["messages"] == MESSAGES


def test_default_answers_pass_the_projects_own_validators(server):
    client = _client(server)

    def ask(fmt: dict, text: str) -> object:
        reply = client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": text}], response_format=fmt
        )
        return json.loads(reply.choices[0].message.content)

    assert len(parse_boundary_scores(ask(_scores_format(16), "score"), 16)) == 16
    assert len(parse_boundary_scores(ask(_format("boundary_scores"), "Boundaries to score: 7"), 7)) == 7
    memento = parse_memento(ask(_format("memento"), "Intro. <block>We set x = 3. Then more.</block>"))
    assert memento == "We set x = 3."
    assert parse_verdict(ask(_format("judge_verdict"), "grade it")).score == 9.0
    assert server.stats.tasks == {"boundary_scores": 2, "memento": 1, "judge_verdict": 1}


def test_the_projects_prompts_are_routed_without_a_response_format():
    values = defaultdict(lambda: "x", count="3", boundaries="4, 5, 6")
    expected = {
        "boundary_scoring": "boundary_scores",
        "compress": "memento",
        "refine": "memento",
        "judge": "judge_verdict",
    }
    for prompt, task in expected.items():
        text = load_prompt(prompt).text.format_map(values)
        assert detect_task({"messages": [{"role": "user", "content": text}]}) == task, prompt
    with FakeOpenAI() as server:
        text = load_prompt("boundary_scoring").text.format_map(values)
        reply = _client(server).chat.completions.create(model="m", messages=[{"role": "user", "content": text}])
        assert len(json.loads(reply.choices[0].message.content)["scores"]) == 3


def test_unknown_boundary_count_is_a_400_that_names_the_contract(server):
    with pytest.raises(openai.BadRequestError, match="Boundaries to score"):
        _client(server).chat.completions.create(
            model="m", messages=MESSAGES, response_format=_format("boundary_scores")
        )
    assert server.stats.outcomes["400"] == 1


def test_registered_task_and_custom_responder_replace_the_defaults():
    with FakeOpenAI(tasks={"memento": lambda request: {"memento": "registered"}}) as server:
        reply = _client(server).chat.completions.create(
            model="m", messages=MESSAGES, response_format=_format("memento")
        )
        assert json.loads(reply.choices[0].message.content) == {"memento": "registered"}
        server.tasks["shout"] = lambda request: "HELLO"
        reply = _client(server).chat.completions.create(model="m", messages=MESSAGES, response_format=_format("shout"))
        assert reply.choices[0].message.content == "HELLO"
    with FakeOpenAI(lambda request: "plain text") as server:
        reply = _client(server).chat.completions.create(
            model="m", messages=MESSAGES, response_format=_format("memento")
        )
        assert reply.choices[0].message.content == "plain text"


def test_a_responder_that_raises_answers_500_and_is_kept_for_the_test():
    def broken(request):
        raise KeyError("oops")

    with FakeOpenAI(broken) as server:
        with pytest.raises(openai.InternalServerError):
            _client(server).chat.completions.create(model="m", messages=MESSAGES)
        assert "KeyError" in server.stats.errors[0]


def test_rate_limit_fault_is_a_rate_limit_error_with_retry_after():
    with FakeOpenAI(faults=FaultPlan(rate_429=1.0, retry_after=2.0)) as server:
        with pytest.raises(openai.RateLimitError) as caught:
            _client(server).chat.completions.create(model="m", messages=MESSAGES)
        assert caught.value.status_code == 429
        assert caught.value.response.headers["retry-after"] == "2"
        assert caught.value.code == "rate_limit_exceeded"
        assert server.stats.outcomes["429"] == 1


def test_client_retries_honour_retry_after_and_then_succeed():
    calls = []
    first_only = FaultPlan(
        retry_after=0.2, fail_always_for=lambda r: not calls.append(1) and len(calls) == 1, fail_always_as="429"
    )
    with FakeOpenAI(faults=first_only) as server:
        start = time.monotonic()
        reply = _client(server, max_retries=2).chat.completions.create(model="m", messages=MESSAGES)
        assert reply.choices[0].message.content
        assert 0.2 <= time.monotonic() - start < 3
        assert server.stats.outcomes == {"429": 1, "ok": 1}


def test_server_error_fault_is_an_internal_server_error():
    with FakeOpenAI(faults=FaultPlan(rate_500=1.0)) as server:
        with pytest.raises(openai.InternalServerError) as caught:
            _client(server).chat.completions.create(model="m", messages=MESSAGES)
        assert caught.value.status_code == 500


def test_timeout_fault_trips_the_client_timeout_and_does_not_hold_up_shutdown():
    start = time.monotonic()
    with FakeOpenAI(faults=FaultPlan(rate_timeout=1.0, timeout_sleep=30.0)) as server:
        with pytest.raises(openai.APITimeoutError):
            _client(server, timeout=0.3).chat.completions.create(model="m", messages=MESSAGES)
        assert server.stats.outcomes["timeout"] == 1
    assert time.monotonic() - start < 5


def test_content_faults_malformed_truncated_and_wrong_count():
    ask = {"model": "m", "messages": MESSAGES, "response_format": _scores_format(8)}
    with FakeOpenAI(faults=FaultPlan(rate_malformed=1.0)) as server:
        choice = _client(server).chat.completions.create(**ask).choices[0]
        assert choice.finish_reason == "stop"
        with pytest.raises(json.JSONDecodeError):
            json.loads(choice.message.content)
    with FakeOpenAI(faults=FaultPlan(rate_truncated=1.0)) as server:
        choice = _client(server).chat.completions.create(**ask).choices[0]
        assert choice.finish_reason == "length"
        assert len(choice.message.content) == len(json.dumps({"scores": [0] * 8})) // 2
    with FakeOpenAI(faults=FaultPlan(rate_wrong_count=1.0)) as server:
        client = _client(server)
        assert len(json.loads(client.chat.completions.create(**ask).choices[0].message.content)["scores"]) == 7
        memento = client.chat.completions.create(model="m", messages=MESSAGES, response_format=_format("memento"))
        assert "memento" in json.loads(memento.choices[0].message.content)  # no scores: left alone
        assert server.stats.outcomes == {"wrong_count": 1, "ok": 1}


def test_max_tokens_cuts_the_answer_with_finish_reason_length(server):
    reply = _client(server).chat.completions.create(model="m", messages=MESSAGES, max_tokens=2)
    assert reply.choices[0].finish_reason == "length"
    assert len(reply.choices[0].message.content) == 8 and reply.usage.completion_tokens == 2


def test_fault_draws_repeat_for_the_same_seed():
    def outcomes(seed: int) -> list[str]:
        with FakeOpenAI(faults=FaultPlan(rate_500=0.5), seed=seed) as server:
            client, seen = _client(server), []
            for _ in range(20):
                try:
                    client.chat.completions.create(model="m", messages=MESSAGES)
                    seen.append("ok")
                except openai.InternalServerError:
                    seen.append("500")
            return seen

    first = outcomes(7)
    assert first == outcomes(7) and {"ok", "500"} == set(first)


def test_fail_always_for_poisons_only_the_matching_requests():
    poisoned = FaultPlan(fail_always_for=lambda r: "poison" in json.dumps(r["messages"]))
    with FakeOpenAI(faults=poisoned) as server:
        client = _client(server)
        for _ in range(3):
            with pytest.raises(openai.InternalServerError):
                client.chat.completions.create(model="m", messages=[{"role": "user", "content": "poison"}])
        assert client.chat.completions.create(model="m", messages=MESSAGES).choices[0].message.content


def test_down_answers_503_to_everything_until_up(server):
    client = _client(server)
    server.down()
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="m", messages=MESSAGES)
    assert caught.value.status_code == 503
    with pytest.raises(openai.InternalServerError):
        client.models.list()
    server.up()
    assert client.chat.completions.create(model="m", messages=MESSAGES).choices[0].message.content
    assert server.stats.outcomes["503"] == 2


def test_api_key_is_checked_and_seen_but_never_shown():
    with FakeOpenAI(api_key="sk-right") as server:
        with pytest.raises(openai.AuthenticationError):
            _client(server, api_key="sk-wrong").chat.completions.create(model="m", messages=MESSAGES)
        assert _client(server, api_key="sk-right").chat.completions.create(model="m", messages=MESSAGES)
        assert server.stats.authorizations == {"Bearer sk-wrong": 1, "Bearer sk-right": 1}
        assert "sk-right" not in repr(server.stats)


def test_models_and_unknown_routes():
    with FakeOpenAI(models=("a", "b")) as server:
        client = _client(server)
        assert [m.id for m in client.models.list().data] == ["a", "b"]
        with pytest.raises(openai.NotFoundError):
            client.embeddings.create(model="a", input="x")


def test_keep_alive_and_chunked_bodies_on_one_connection(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        body = json.dumps({"model": "m", "messages": MESSAGES}).encode()
        for chunked in (False, True, False):
            if chunked:
                conn.request("POST", "/v1/chat/completions", body=iter([body[:10], body[10:]]), encode_chunked=True)
            else:
                conn.request("POST", "/v1/chat/completions", body=body, headers={"Content-Type": "application/json"})
            reply = conn.getresponse()
            assert reply.status == 200 and json.loads(reply.read())["object"] == "chat.completion"
        assert server.stats.endpoints["POST /v1/chat/completions"] == 3
    finally:
        conn.close()


def test_128_concurrent_async_requests_are_not_serialised():
    async def run(base_url: str) -> list[str]:
        client = openai.AsyncOpenAI(base_url=base_url, api_key="sk-test", timeout=10.0, max_retries=0)
        async with client:
            replies = await asyncio.gather(
                *(client.chat.completions.create(model="m", messages=MESSAGES) for _ in range(128))
            )
        return [r.choices[0].message.content for r in replies]

    with FakeOpenAI(latency=0.2) as server:
        start = time.monotonic()
        contents = asyncio.run(run(server.base_url))
        elapsed = time.monotonic() - start
        assert len(contents) == 128 and all(contents)
        assert elapsed < 5, f"128 requests of 0.2 s took {elapsed:.1f} s: the server serialises them"
        assert server.stats.max_in_flight > 4  # loose: the client itself needs ~3 ms a request


def _batch_input(lines: list[tuple[str, str]]) -> bytes:
    rows = [
        {
            "custom_id": cid,
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {
                "model": "m",
                "messages": [{"role": "user", "content": text}],
                "response_format": _format("memento"),
            },
        }
        for cid, text in lines
    ]
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def test_batch_full_cycle_with_a_failed_line_in_the_error_file():
    poisoned = FaultPlan(fail_always_for=lambda r: "poison" in json.dumps(r["messages"]))
    with FakeOpenAI(faults=poisoned, batch_polls=2) as server:
        client = _client(server)
        data = _batch_input([("a", "<block>First a. Then.</block>"), ("b", "poison"), ("c", "<block>C.</block>")])
        uploaded = client.files.create(file=("input.jsonl", io.BytesIO(data)), purpose="batch")
        assert uploaded.bytes == len(data) and uploaded.purpose == "batch" and uploaded.filename == "input.jsonl"
        assert client.files.content(uploaded.id).content == data
        batch = client.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        statuses = [batch.status]
        while batch.status not in ("completed", "failed") and len(statuses) < 10:
            batch = client.batches.retrieve(batch.id)
            statuses.append(batch.status)
        assert statuses == ["validating", "in_progress", "completed"]
        assert (batch.request_counts.total, batch.request_counts.completed, batch.request_counts.failed) == (3, 2, 1)
        out = [json.loads(x) for x in client.files.content(batch.output_file_id).text.splitlines()]
        assert [o["custom_id"] for o in out] == ["a", "c"]
        body = out[0]["response"]["body"]
        assert out[0]["response"]["status_code"] == 200 and out[0]["error"] is None
        assert json.loads(body["choices"][0]["message"]["content"]) == {"memento": "First a."}
        errors = [json.loads(x) for x in client.files.content(batch.error_file_id).text.splitlines()]
        assert [(e["custom_id"], e["response"]["status_code"]) for e in errors] == [("b", 500)]
        assert batch.usage.input_tokens > 0 and server.stats.batch_lines == 3


def test_batch_with_a_bad_line_fails_validation_and_cancel_works():
    with FakeOpenAI() as server:
        client = _client(server)
        bad = client.files.create(
            file=("bad.jsonl", io.BytesIO(_batch_input([("a", "x")]) + b"not json\n")), purpose="batch"
        )
        batch = client.batches.create(input_file_id=bad.id, endpoint="/v1/chat/completions", completion_window="24h")
        batch = client.batches.retrieve(batch.id)
        assert batch.status == "failed" and batch.errors.data[0].line == 2
        good = client.files.create(file=("good.jsonl", io.BytesIO(_batch_input([("a", "x")]))), purpose="batch")
        batch = client.batches.create(input_file_id=good.id, endpoint="/v1/chat/completions", completion_window="24h")
        assert client.batches.cancel(batch.id).status == "cancelling"
        assert client.batches.retrieve(batch.id).status == "cancelled"
        with pytest.raises(openai.BadRequestError):
            client.batches.cancel(batch.id)


def test_batch_completes_after_batch_seconds():
    with FakeOpenAI(batch_polls=1000, batch_seconds=0.3) as server:
        client = _client(server)
        uploaded = client.files.create(file=("in.jsonl", io.BytesIO(_batch_input([("a", "x")]))), purpose="batch")
        batch = client.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        assert client.batches.retrieve(batch.id).status == "in_progress"
        time.sleep(0.35)
        assert client.batches.retrieve(batch.id).status == "completed"
