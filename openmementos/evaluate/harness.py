"""The eval harness: problems with gold answers in, accuracy and KV cost per decoding mode out.

A backend turns (problem, mode, sample index) into a text and its
:class:`~openmementos.decode.metrics.GenerationMetrics`: :class:`LocalBackend` decodes with the
reference decoder (the KV numbers are measured on its cache); :class:`ServerBackend` reads
completions from an OpenAI-compatible server (vLLM) and replays the KV numbers from the text
(the server decides what it evicts; the accounting says what each mode would hold). Answers are
extracted and graded the same way for both. Accuracy is pass@1 averaged over the ``k`` samples of
each problem, then over problems.
"""

from __future__ import annotations

import json
import statistics
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, Iterator, Protocol

from .. import format as fmt
from ..decode.blocks import Mode
from ..decode.metrics import GenerationMetrics, summarise
from ..decode.models import ModelShape
from ..errors import InputError, ServerError
from .answers import LETTERS, extract_answer, extract_choice, last_boxed
from .grading import grade_choice, grade_math

_NOT_CHAT_HINT = "check that --vllm-url is the /v1 base URL of an OpenAI-compatible server"

MATH_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."
CHOICE_INSTRUCTION = "Please reason step by step, and put the letter of your final choice within \\boxed{}."


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem: ``kind`` is ``math`` (graded as an expression) or ``choice`` (a letter)."""

    id: str
    problem: str
    answer: str
    kind: str = "math"
    domain: str = "math"
    choices: tuple[str, ...] = ()

    def prompt(self) -> str:
        """The user turn: the problem, its lettered choices, and the answer instruction."""
        lines = [self.problem.strip()]
        if self.choices:
            lines += [f"{LETTERS[i]}. {choice}" for i, choice in enumerate(self.choices)]
        return "\n".join(lines) + "\n\n" + (CHOICE_INSTRUCTION if self.kind == "choice" else MATH_INSTRUCTION)


def _json(text: str, where: str):
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as error:
        raise InputError(f"{where} is not valid JSON: {' '.join(str(error).split())[:200]}",
                         "each line of --data must be one JSON object with a problem and its answer") from None


def _problem(row: dict, name: str) -> Problem:
    if not isinstance(row, dict):
        raise InputError(f"{name} is a JSON {type(row).__name__}, not an object",
                         "each line of --data must be one JSON object with a problem and its answer")
    text = row.get("problem") or row.get("question")
    answer = row.get("answer") if row.get("answer") not in (None, "") else row.get("gold")
    if answer in (None, "") and row.get("solution"):
        answer = last_boxed(row["solution"])
    if not text or answer in (None, ""):
        raise InputError(f"{name} has no problem/question or no answer/gold",
                         "each line needs a problem and a gold answer (or a solution with a \\boxed{} answer)")
    choices = row.get("choices") or row.get("options") or ()
    if isinstance(choices, dict):
        choices = [choices[k] for k in sorted(choices)]
    kind = row.get("kind") or ("choice" if choices else "math")
    return Problem(str(row.get("id") or name), str(text), str(answer), kind,
                   str(row.get("domain") or row.get("subject") or kind), tuple(str(c) for c in choices))


def load_problems(path: str | Path, limit: int | None = None) -> list[Problem]:
    """Problems from a JSONL file (or a JSON list): ``problem`` (or ``question``), ``answer``
    (or ``gold``, or the last ``\\boxed{}`` of ``solution``), optional ``id``, ``choices``, ``kind``."""
    file = Path(path)
    if not file.is_file():
        raise InputError(f"{file} is not a file", "pass a JSONL of problems, e.g. --data ../shared/data/eval/math500.jsonl")
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise InputError(f"{file} is not UTF-8 text (byte {error.start})", "re-encode it as UTF-8") from None
    if file.suffix == ".json":
        rows = _json(text, str(file))
        rows = rows if isinstance(rows, list) else [rows]
    else:
        rows = [_json(line, f"{file}:{number}") for number, line in enumerate(text.splitlines(), start=1) if line.strip()]
    problems = [_problem(row, f"{file.name}#{i}") for i, row in enumerate(rows[:limit] if limit else rows)]
    if not problems:
        raise InputError(f"{file} holds no problems")
    return problems


@dataclass(frozen=True, slots=True)
class Sample:
    """One graded generation."""

    problem_id: str
    mode: str
    index: int
    text: str
    answer: str | None
    extraction: str
    correct: bool
    grading: str
    metrics: GenerationMetrics


class Backend(Protocol):
    """Turns problems into texts and their metrics, for one mode, ``samples`` per problem."""

    name: str
    shape: ModelShape | None

    def run(self, problems: list[Problem], mode: Mode, samples: int) -> Iterator[tuple[Problem, int, str, GenerationMetrics]]: ...


def grade(problem: Problem, text: str, backend: str = "auto") -> tuple[str | None, str, bool, str]:
    """(answer, how it was extracted, correct, how it was graded)."""
    if problem.kind == "choice":
        found = extract_choice(text, LETTERS[: len(problem.choices)] if problem.choices else LETTERS)
        verdict = grade_choice(found.answer, problem.answer)
    else:
        found = extract_answer(text)
        verdict = grade_math(found.answer, problem.answer, backend)
    return found.answer, found.method, verdict.correct, verdict.method


def sample_seed(seed: int, problem_index: int, sample: int) -> int:
    """The same seed for a (problem, sample) in every mode, so modes are compared on paired draws."""
    return seed * 1_000_003 + problem_index * 1_009 + sample


def _format_valid(text: str) -> bool:
    try:
        fmt.parse(text)
        return True
    except fmt.FormatError:
        return False


# -- backends ----------------------------------------------------------------------------------

class LocalBackend:
    """The reference decoder on a local model (a ``train-sft`` output or any causal LM folder)."""

    def __init__(self, model, tokenizer, decode_config, batch_size: int = 8, shape: ModelShape | None = None,
                 name: str = "local", require_tokens: bool = True) -> None:
        from ..decode.decoder import MementoDecoder

        self.decoder = MementoDecoder.from_tokenizer(model, tokenizer, require_tokens)
        self.tokenizer = tokenizer
        self.config = decode_config
        self.batch_size = batch_size
        self.shape = shape
        self.name = name

    def _prompt_ids(self, problem: Problem) -> list[int]:
        chat = [{"role": "user", "content": problem.prompt()}]
        text = self.tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def run(self, problems: list[Problem], mode: Mode, samples: int):
        config = replace(self.config, mode=mode.name)
        jobs = [(i, p, s) for i, p in enumerate(problems) for s in range(samples)]
        for start in range(0, len(jobs), self.batch_size):
            batch = jobs[start:start + self.batch_size]
            prompts = [self._prompt_ids(p) for _, p, _ in batch]
            seeds = [sample_seed(config.seed, i, s) for i, _, s in batch]
            for (_, problem, s), gen in zip(batch, self.decoder.generate(prompts, config, seeds=seeds)):
                ids = list(gen.token_ids)
                if ids and ids[-1] in self.decoder.stop_ids:
                    ids = ids[:-1]
                text = self.tokenizer.decode(ids, skip_special_tokens=False)
                yield problem, s, text, replace(gen.metrics, format_valid=_format_valid(text))


def load_local(path: str | Path, tokenizer: str | Path | None = None, device: str = "auto", dtype: str = "auto",
               attention: str = "sdpa"):
    """(model, tokenizer) from a local folder, in eval mode. ``auto``: CUDA and bf16 when there is
    a GPU, else CPU and float32."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = Path(path)
    if not (folder / "config.json").is_file():
        raise InputError(f"{folder} is not a model folder (no config.json)",
                         "pass a train-sft output (e.g. runs/memento/stage2/final) or a local model snapshot")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if dtype == "auto":
        dtype = "bfloat16" if device.startswith("cuda") else "float32"
    tok = AutoTokenizer.from_pretrained(str(tokenizer or folder))
    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=getattr(torch, dtype), attn_implementation=attention)
    return model.to(device).eval(), tok


class ServerBackend:
    """Completions from an OpenAI-compatible server (e.g. vLLM serving a MEMENTO model).

    Each (problem, sample) is asked once (``seed`` per sample) and kept, so every mode is
    accounted on the same text. vLLM is asked to keep special tokens in the text; a reasoning
    parser's ``reasoning_content`` is put back inside ``<think>...</think>``.
    """

    def __init__(self, base_url: str, model: str, counter, *, api_key: str = "EMPTY", max_tokens: int = 32768,
                 temperature: float = 0.6, top_p: float = 0.95, top_k: int = 20, seed: int = 0,
                 concurrency: int = 8, timeout: float = 3600.0, shape: ModelShape | None = None) -> None:
        import openai

        self.client = openai.OpenAI(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=3)
        self.base_url, self.api_key = base_url, api_key
        self.model, self.counter = model, counter
        self.params = dict(max_tokens=max_tokens, temperature=temperature, top_p=top_p)
        self.extra = {"top_k": top_k, "skip_special_tokens": False}
        self.seed, self.concurrency, self.shape = seed, concurrency, shape
        self.name = f"server:{base_url}"
        self._texts: dict[tuple[str, int], tuple[str, float]] = {}

    def _ask(self, problem: Problem, seed: int) -> tuple[str, float]:
        start = time.perf_counter()
        reply = self._create(problem, seed)
        message = reply.choices[0].message
        text = message.content or ""
        reasoning = getattr(message, "reasoning_content", None) or (message.model_extra or {}).get("reasoning_content")
        if reasoning and fmt.THINK_START not in text:
            text = f"{fmt.THINK_START}{reasoning}{fmt.THINK_END}{text}"
        return text, time.perf_counter() - start

    def _create(self, problem: Problem, seed: int):
        """One chat completion; every way the server can fail is one :class:`ServerError` line,
        with the API key taken out of whatever the server said (a 401 may echo it)."""
        import openai

        from ..teacher.httpclient import public_url
        from ..teacher.openai_teacher import _scrub

        where = public_url(self.base_url)
        try:
            reply = self.client.chat.completions.create(
                model=self.model, messages=[{"role": "user", "content": problem.prompt()}], seed=seed,
                extra_body=self.extra, **self.params)
        except (openai.AuthenticationError, openai.PermissionDeniedError) as error:
            raise ServerError(f"the server at {where} refused the API key ({error.status_code})",
                              "check --api-key or OPENAI_API_KEY") from None
        except openai.NotFoundError:
            raise ServerError(f"the server at {where} does not know the model {self.model!r} (404)",
                              "check --served-model against the server's /v1/models, and that --vllm-url ends in /v1") from None
        except openai.APIConnectionError as error:
            raise ServerError(f"cannot reach the server at {where}: {_scrub(str(error), self.api_key)}",
                              "start the server, or check --vllm-url") from None
        except openai.APIStatusError as error:
            raise ServerError(f"the server at {where} answered {error.status_code}: {_scrub(_one_line(error), self.api_key)}",
                              "check the server's log") from None
        except (openai.OpenAIError, ValueError) as error:   # an answer the client cannot read at all (empty, not JSON)
            raise ServerError(f"the server at {where} did not answer with a chat completion: {_scrub(_one_line(error), self.api_key)}",
                              _NOT_CHAT_HINT) from None
        if not getattr(reply, "choices", None) or getattr(reply.choices[0], "message", None) is None:
            # an HTML page or an empty body comes back as text, not a completion
            raise ServerError(f"the server at {where} did not answer with a chat completion ({_shape(reply)})", _NOT_CHAT_HINT)
        return reply

    def run(self, problems: list[Problem], mode: Mode, samples: int):
        jobs = [(i, p, s) for i, p in enumerate(problems) for s in range(samples) if (p.id, s) not in self._texts]
        with ThreadPoolExecutor(self.concurrency) as pool:
            answers = pool.map(lambda job: self._ask(job[1], sample_seed(self.seed, job[0], job[2])), jobs)
            for (_, problem, s), answer in zip(jobs, answers):
                self._texts[(problem.id, s)] = answer
        from ..decode.replay import replay_response

        for problem in problems:
            prompt_tokens = self.counter.count(problem.prompt())
            for s in range(samples):
                text, seconds = self._texts[(problem.id, s)]
                metrics = replay_response(text, self.counter, mode, prompt_tokens)
                yield problem, s, text, replace(metrics, seconds=seconds)


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text[:300] or type(error).__name__


def _shape(reply) -> str:
    if isinstance(reply, str):
        return f"{len(reply):,} characters of text" if reply.strip() else "an empty body"
    return f"a {type(reply).__name__} without choices"


# -- the run -----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class EvalReport:
    backend: str
    problems: int
    samples: int
    modes: dict[str, dict]           # mode -> summary
    records: list[Sample]

    def as_dict(self) -> dict:
        return {
            "backend": self.backend, "problems": self.problems, "samples_per_problem": self.samples,
            "modes": self.modes,
            "records": [{**{k: v for k, v in asdict(r).items() if k != "metrics"}, "metrics": r.metrics.as_dict()}
                        for r in self.records],
        }


def pass_at_1(samples: list[Sample]) -> float:
    """Mean over problems of the fraction of that problem's samples that are correct."""
    by_problem: dict[str, list[bool]] = defaultdict(list)
    for s in samples:
        by_problem[s.problem_id].append(s.correct)
    return statistics.fmean(sum(v) / len(v) for v in by_problem.values()) if by_problem else 0.0


def evaluate(problems: list[Problem], backend: Backend, modes: tuple[Mode, ...], samples: int = 1,
             grader: str = "auto", on_sample: Callable[[Sample], None] | None = None) -> EvalReport:
    """Every problem ``samples`` times in every mode; a summary per mode and every graded sample."""
    records: list[Sample] = []
    summaries = {}
    for mode in modes:
        graded = []
        for problem, index, text, metrics in backend.run(problems, mode, samples):
            answer, extraction, correct, grading = grade(problem, text, grader)
            sample = Sample(problem.id, mode.name, index, text, answer, extraction, correct, grading, metrics)
            graded.append(sample)
            if on_sample is not None:
                on_sample(sample)
        summary = summarise([s.metrics for s in graded], backend.shape)
        summary["accuracy"] = pass_at_1(graded)
        summary["answered"] = sum(s.answer is not None for s in graded) / len(graded) if graded else 0.0
        summaries[mode.name] = summary
        records += graded
    return EvalReport(backend.name, len(problems), samples, summaries, records)
