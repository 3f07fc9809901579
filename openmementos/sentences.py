"""Stage 2, sentences: split the thinking text into sentences, losslessly.

Sentences are the units the boundary scorer and the optimiser work with, so a cut may fall
only between two of them. The split keeps structure whole (code, display and inline math),
knows that abbreviations, decimals and list numbers are not sentence ends, then applies the
paper's joins: a sentence ending in ``:`` joins the next, one opening with a connective
("Therefore", "Thus", ...) joins the previous inside a math derivation, and fragments under
``min_tokens`` merge.

Granularity follows the MEMENTO authors' splitter: a sentence ends at a terminator or a blank
line. A single newline inside a paragraph is only a line wrap, unless the next line starts a
list item, code, display math or a heading (or the line before it was one of those).

Only whitespace ever separates two sentences, and every separator is recorded, so
``leading + sentences[0] + separators[0] + ... + sentences[-1] + separators[-1]`` is the
thinking text byte for byte.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from .records import Skip, Trace
from .tokens import TokenCounter


@dataclass(frozen=True, slots=True)
class SplitConfig:
    min_tokens: int = 5          # fragments under this merge with a neighbour
    join_colon: bool = True      # "... as follows:" belongs with what follows
    # A step of a derivation belongs with the step before it: a cut just before "Therefore x = 3"
    # strands it. Only inside math (both sentences have some) and within a paragraph: elsewhere
    # "So I think ..." or "Therefore the code ..." often opens a new stretch of reasoning.
    join_connectives: tuple[str, ...] = ("Therefore", "Thus", "So", "Hence")
    # Lines of one calculation (a math line that ends without a full stop, then another math
    # line) and runs of list items stay together, up to this many characters: a cut inside a
    # calculation or a list is never a good one, and scoring each line costs requests.
    join_math_chars: int = 600


@dataclass(frozen=True, slots=True)
class SentenceSplit:
    """Sentences and the whitespace around them.

    >>> s = SentenceSplit("", ["Hi there.", "Bye now."], ["\\n\\n", "\\n"], [3, 3])
    >>> s.rejoin()
    'Hi there.\\n\\nBye now.\\n'
    """

    leading: str               # whitespace before the first sentence
    sentences: list[str]       # no sentence is empty or starts/ends with whitespace
    separators: list[str]      # separators[i] = whitespace after sentences[i] (the last may be "")
    tokens: list[int]          # token count of each sentence

    def rejoin(self) -> str:
        """The original text: ``leading`` + each sentence followed by its separator."""
        parts = [self.leading]
        for sentence, separator in zip(self.sentences, self.separators):
            parts.append(sentence)
            parts.append(separator)
        return "".join(parts)


# Spans no cut may fall inside. Leftmost match wins; at one position the earlier alternative
# wins, so a fence beats inline code and "$$" beats "$".
_INDENT = r"(?:[ ]{4}|\t)"
_PROTECTED = re.compile(
    # Fenced code, language tag included; an unclosed fence runs to the end of the text.
    r"^[ \t]*(?P<fence>`{3,}|~{3,})[^\n`]*(?=\n|\Z)(?:.*?\n[ \t]*(?P=fence)|.*)"
    r"|\$\$.*?\$\$"
    r"|\\\[.*?\\\]"
    r"|\\begin\{(?P<env>[^{}\n]+)\}.*?\\end\{(?P=env)\}"
    # Inline math may wrap a line but not cross a paragraph, so a stray "\(" cannot swallow it.
    r"|\\\((?:(?!\n[ \t]*\n).)*?\\\)"
    # "$x$" but not "$5 and $10": no space just inside either dollar, no digit right after.
    r"|\$(?![\s$])(?:\\.|[^$\\\n])*?(?<!\s)\$(?!\d)"
    r"|`[^`\n]+`"
    # Indented code: indented lines after a blank line (or at the very start), with blank
    # lines inside it but not after it.
    rf"|(?:\A|^[ \t]*\n)(?P<indented>{_INDENT}[^\n]*(?:\n(?:{_INDENT}[^\n]*|[ \t]*(?=\n{_INDENT})))*)",
    re.DOTALL | re.MULTILINE,
)

# Candidate cuts: whitespace after a terminator (and closing quotes, brackets, emphasis), or any
# whitespace run that holds a newline; :func:`_is_cut` decides which end a sentence.
_CLOSERS = "\"'”’)]}»*_"
_CUT = re.compile(rf"[.!?…][{re.escape(_CLOSERS)}]*(?P<ws>\s+)|\s*\n\s*")
_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")
# A line that is structure, not a wrapped continuation: a list item, a heading, code or display math.
_LIST_ITEM = r"(?:[-*+•]|\d+(?:\.\d+)*[.)]|\(?[a-zA-Z][.)]|\([ivxIVX]+\)|[ivx]+[.)])[ \t]"
_HEADING_LINE = r"(?:\#{1,6}[ \t]|\*\*[^*\n]+\*\*[:.]?[ \t]*$|(?:Step|Case|Part)[ \t]+\w+[ \t]*[:.)])"
_STRUCTURE_START = re.compile(rf"(?:{_LIST_ITEM}|{_HEADING_LINE}|`{{3}}|~{{3}}|\$\$|\\\[|\\begin\{{|[ ]{{4}}|\t)", re.MULTILINE)
_STRUCTURE_END = re.compile(r"(?:`{3}|~{3}|\$\$|\\\]|\\end\{[^{}\n]*\})[ \t]*$")
_HEADING = re.compile(_HEADING_LINE, re.MULTILINE)
_LIST_START = re.compile(_LIST_ITEM)
_TERSE_WORDS = 30  # a math sentence this short is one step of a computation, not a thought of its own
# Some mathematics: a LaTeX span or command, a relation or operator sign, or digits joined by an operator.
_MATH = re.compile(r"\\[a-zA-Z]+|\\[(\[]|\$|[=<>^_≤≥≠≈⇒→⟹∑∏∫√±×÷]|\d\s*[-+*/]\s*\(?\s*[\w(]")

# Words whose trailing period is part of the word. "etc." is handled apart: it often does end one.
_ABBREVIATIONS = frozenset(
    "e.g i.e eg ie vs cf viz al approx resp dr mr mrs ms prof fig figs eq eqs thm prop lem".split()
)
# "U.S.", "a.m.": single letters joined by periods.
_INITIALISM = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]")
# A list number at the start of a line: "1.", "2.3.", "a.", "iv.".
_ENUMERATOR = re.compile(r"\d+(?:\.\d+)*|[A-Za-z]|[ivx]+|[IVX]+")
_WORD_OPENERS = "\"'“‘([{*_"
_BULLETS = " \t-*+>#"


def split(text: str, counter: TokenCounter, config: SplitConfig = SplitConfig()) -> SentenceSplit:
    """Split ``text`` into sentences whose rejoin is ``text`` byte for byte.

    >>> from openmementos.tokens import TiktokenCounter
    >>> s = split("So x = 3.14, e.g. pi.\\n\\nTherefore, done now.", TiktokenCounter())
    >>> s.sentences
    ['So x = 3.14, e.g. pi.\\n\\nTherefore, done now.']
    """
    start = len(text) - len(text.lstrip())
    end = len(text.rstrip())
    if start >= end:
        return SentenceSplit(text, [], [], [])
    spans = _raw_spans(text, start, end)
    spans = _join(text, spans, config)
    texts = [text[s:e] for s, e in spans]
    counts = counter.count_many(texts)
    spans, counts = _merge_fragments(text, spans, counts, config.min_tokens, counter)
    sentences = [text[s:e] for s, e in spans]
    separators = [text[e:next_s] for (_, e), (next_s, _) in zip(spans, spans[1:])]
    separators.append(text[spans[-1][1]:])
    return SentenceSplit(text[: spans[0][0]], sentences, separators, counts)


def split_trace(trace: Trace, counter: TokenCounter, config: SplitConfig = SplitConfig()) -> Trace | Skip:
    """Fill the trace's sentence fields, or skip it when its thinking has no sentence."""
    result = split(trace.thinking, counter, config)
    if not result.sentences:
        return Skip(trace.trace_id, "sentences", "empty_thinking", f"{len(trace.thinking)} characters, all whitespace")
    trace.leading = result.leading
    trace.sentences = result.sentences
    trace.separators = result.separators
    trace.sentence_tokens = result.tokens
    return trace


def _protected_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    for match in _PROTECTED.finditer(text):
        s, e = match.span("indented") if match.group("indented") is not None else match.span()
        # Trim, so a whitespace run never straddles a span edge and cuts stay whole runs.
        chunk = text[s:e]
        s, e = s + len(chunk) - len(chunk.lstrip()), s + len(chunk.rstrip())
        if s < e:
            spans.append((s, e))
    return spans


def _raw_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentence spans before the joins: text between cuts, within [start, end)."""
    cuts: list[tuple[int, int]] = []
    gap_start = start
    for p_start, p_end in [*_protected_spans(text), (end, end)]:
        for match in _CUT.finditer(text, gap_start, min(p_start, end)):
            ws_start = match.start("ws") if match.group("ws") is not None else match.start()
            if _is_cut(text, match.start(), ws_start, match.end()):
                cuts.append((ws_start, match.end()))
        gap_start = max(gap_start, p_end)
    spans = []
    for ws_start, ws_end in cuts:
        spans.append((start, ws_start))
        start = ws_end
    spans.append((start, end))
    return spans


def _is_cut(text: str, at: int, ws_start: int, ws_end: int) -> bool:
    """Whether the whitespace run [ws_start, ws_end) ends the sentence before it."""
    ws = text[ws_start:ws_end]
    if "\n" in ws and (_BLANK_LINE.search(ws) or _line_break_is_structural(text, ws_start, ws_end)):
        return True
    mark = text[at]
    if mark not in ".!?…":
        return False  # a bare line wrap inside a paragraph
    following = text[ws_end] if ws_end < len(text) else ""
    if mark == "?":
        return True
    if mark == "…" or (mark == "." and text[at - 1 : at] == "."):
        # "1 + 2 + ... + n", "0.333... so": an ellipsis inside maths goes on; one before a
        # capital ("Let me think... Maybe") ends the thought.
        return following.isupper()
    word = _word_before(text, at)
    if mark == "!":
        # "5! = 120", "n! ways": a factorial, unless a new sentence clearly starts.
        if word[-1:].isdigit() or word[-1:] == ")" or len(word) == 1:
            return following.isupper()
        return True
    bare = word.lstrip(_WORD_OPENERS)
    if bare.lower() in _ABBREVIATIONS or _INITIALISM.fullmatch(bare):
        return False
    if bare.lower() == "etc":
        return following.isupper()
    if _ENUMERATOR.fullmatch(bare) and _at_line_start(text, at - len(word)):
        return False
    return True


def _line_break_is_structural(text: str, ws_start: int, ws_end: int) -> bool:
    """Whether a single line break ends the sentence: the next line starts structure (a list item,
    a heading, code, display math), or the line before it was a heading or closed code or math."""
    next_line_start = text.rfind("\n", ws_start, ws_end) + 1
    if _STRUCTURE_START.match(text, next_line_start):
        return True
    line_start = text.rfind("\n", 0, ws_start) + 1
    previous = text[line_start:ws_start]
    return bool(_STRUCTURE_END.search(previous) or _HEADING.match(previous.lstrip()) and not previous.rstrip().endswith(":"))


def _word_before(text: str, at: int) -> str:
    """The non-whitespace run that ends just before ``at`` (at most 40 characters of it)."""
    window = text[max(0, at - 40) : at]
    if not window or window[-1].isspace():
        return ""
    return window.split()[-1]


def _at_line_start(text: str, at: int) -> bool:
    line_start = text.rfind("\n", 0, at) + 1
    return not text[line_start:at].strip(_BULLETS)


@functools.lru_cache(maxsize=16)
def _connective_pattern(words: tuple[str, ...]) -> re.Pattern[str] | None:
    if not words:
        return None
    return re.compile(rf"(?:{'|'.join(map(re.escape, words))})(?=[,\s])")


def _ends_with_colon(text: str, s: int, e: int) -> bool:
    # "**Step 1:**" ends in a colon too, behind its emphasis.
    e -= 1
    while e > s and text[e] in "*_":
        e -= 1
    return text[e] == ":"


def _derivation_step(text: str, connective: re.Pattern[str] | None, prev: tuple[int, int], s: int, e: int) -> bool:
    """A sentence opening with a connective that continues a math derivation in the same paragraph."""
    return (
        connective is not None
        and connective.match(text, s) is not None
        and not _BLANK_LINE.search(text, prev[1], s)
        and _MATH.search(text, s, e) is not None
        and _MATH.search(text, *prev) is not None
    )


def _continues_calculation(text: str, prev: tuple[int, int], s: int, e: int) -> bool:
    """The next piece goes on with the previous one: two list items, or two math pieces where the
    first has no full stop, or both are short in one paragraph (terse steps of one computation)."""
    prev_s, prev_e = prev
    if _LIST_START.match(text, prev_s) and _LIST_START.match(text, s):
        return True
    if _HEADING.match(text, s) or _MATH.search(text, prev_s, prev_e) is None or _MATH.search(text, s, e) is None:
        return False
    if text[prev_e - 1] not in ".!?…":
        return True  # "x + y = 2" then "x - y = 0": one calculation, even a line or two apart
    # two short finished steps go together only within a paragraph: a blank line is the writer's break
    terse = len(text[prev_s:prev_e].split()) <= _TERSE_WORDS and len(text[s:e].split()) <= _TERSE_WORDS
    return terse and not _BLANK_LINE.search(text, prev_e, s)


def _join(text: str, spans: list[tuple[int, int]], config: SplitConfig) -> list[tuple[int, int]]:
    """Apply the colon, connective and calculation joins; the whitespace between stays inside
    the sentence."""
    connective = _connective_pattern(config.join_connectives)
    joined = [spans[0]]
    previous = spans[0]  # the last raw piece: a long joined run must not "have math" from far back
    for s, e in spans[1:]:
        prev_s, prev_e = joined[-1]
        glue = (config.join_colon and _ends_with_colon(text, prev_s, prev_e)) or _derivation_step(
            text, connective, previous, s, e
        ) or (e - prev_s <= config.join_math_chars and _continues_calculation(text, previous, s, e))
        if glue:
            joined[-1] = (prev_s, e)
        else:
            joined.append((s, e))
        previous = (s, e)
    return joined


def _merge_fragments(
    text: str,
    spans: list[tuple[int, int]],
    counts: list[int],
    min_tokens: int,
    counter: TokenCounter,
) -> tuple[list[tuple[int, int]], list[int]]:
    """Merge sentences under ``min_tokens`` into the previous one (the first into the next).

    Decisions use the parts' summed counts; merged sentences are recounted after, so every
    count is exact (tokens can merge across the joined whitespace).
    """
    out: list[tuple[int, int]] = []
    out_counts: list[int] = []
    merged: set[int] = set()
    pending: tuple[int, int] | None = None  # a short opening run waiting for the next sentence
    for (s, e), count in zip(spans, counts):
        if pending is not None:
            s, count = pending[0], pending[1] + count
            pending = None
            is_merged = True
        else:
            is_merged = False
        if count < min_tokens and out:
            out[-1] = (out[-1][0], e)
            out_counts[-1] += count
            merged.add(len(out) - 1)
        elif count < min_tokens:
            pending = (s, count)
        else:
            if is_merged:
                merged.add(len(out))
            out.append((s, e))
            out_counts.append(count)
    if pending is not None:  # the whole text is one short fragment
        out.append((pending[0], spans[-1][1]))
        out_counts.append(pending[1])
        if len(spans) > 1:
            merged.add(0)
    if merged:
        order = sorted(merged)
        for i, count in zip(order, counter.count_many([text[out[i][0] : out[i][1]] for i in order])):
            out_counts[i] = count
    return out, out_counts
