"""The block state machine: where each block's tokens sit, and what a mode drops when one closes.

Both the decoder and replay feed it the tokens of an assistant turn, one kind at a time (one of
the four memento tokens of :mod:`openmementos.format`, or ``None`` for any other token), and
get back, when a ``<|summary_end|>`` closes a block, the positions whose KV entries the mode
drops from that token on. It knows nothing of torch or models, so replay runs without either.

The rule is the stage-2 training mask's (:mod:`openmementos.train.masks`): a block's *content*
lies strictly between its ``<|block_start|>`` and ``<|block_end|>``; its *delimiters* are those
two tags' positions up to the ``<|summary_start|>`` (the tag, the ``\\n`` after it); its
*memento* runs from ``<|summary_start|>`` to ``<|summary_end|>``. From the ``<|summary_end|>`` on,
the content (and with ``mask_delimiters`` the delimiters) of every finished block but the
``keep_last_n`` most recent is dropped. Positions are never renumbered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .. import format as fmt
from ..errors import ConfigError

OUTSIDE, CONTENT, GLUE, MEMENTO = "outside", "content", "glue", "memento"
# token -> (state it is expected in, state it leads to), in the order format.render writes them
_TRANSITIONS = {
    fmt.BLOCK_START: (OUTSIDE, CONTENT),
    fmt.BLOCK_END: (CONTENT, GLUE),
    fmt.SUMMARY_START: (GLUE, MEMENTO),
    fmt.SUMMARY_END: (MEMENTO, OUTSIDE),
}
_KEEP_LAST = re.compile(r"keep-last-(\d+)")


@dataclass(frozen=True, slots=True)
class Mode:
    """What happens to a block's KV entries once its memento is written.

    ``full``: nothing (plain decoding). ``memento``: every finished block's content is dropped.
    ``keep-last-N``: the N most recently finished blocks stay whole. ``restart``: as ``memento``,
    and the KV entries of what follows the dropped content (the memento with its tags) are
    recomputed without the block visible: the paper's single-stream ablation.

    >>> Mode.parse("keep-last-2")
    Mode(name='keep-last-2', keep_last_n=2, restart=False)
    >>> Mode.parse("full").evicts
    False
    """

    name: str
    keep_last_n: int | None      # None: never drop anything
    restart: bool = False

    @property
    def evicts(self) -> bool:
        return self.keep_last_n is not None

    @classmethod
    def parse(cls, text: str) -> "Mode":
        name = text.strip().lower()
        if name == "full":
            return cls(name, None)
        if name == "memento":
            return cls(name, 0)
        if name == "restart":
            return cls(name, 0, restart=True)
        match = _KEEP_LAST.fullmatch(name)
        if match:
            return cls(name, int(match.group(1)))
        raise ConfigError(f"unknown mode {text!r}", "modes are full, memento, keep-last-N (e.g. keep-last-2) and restart")


def parse_modes(text: str) -> tuple[Mode, ...]:
    """``"full,memento"`` -> the modes, in order, without repeats."""
    modes: list[Mode] = []
    for part in text.split(","):
        if part.strip():
            mode = Mode.parse(part)
            if mode not in modes:
                modes.append(mode)
    if not modes:
        raise ConfigError("no mode given", "e.g. --mode full,memento")
    return tuple(modes)


@dataclass(frozen=True, slots=True)
class Block:
    """Positions of one finished block's four tags."""

    start: int
    end: int
    summary_start: int
    summary_end: int

    @property
    def content_tokens(self) -> int:
        return self.end - self.start - 1

    @property
    def memento_tokens(self) -> int:
        """The memento's text, without its two tags."""
        return self.summary_end - self.summary_start - 1

    def hidden(self, mask_delimiters: bool) -> tuple[range, ...]:
        """The positions dropped once this block's turn comes."""
        content = range(self.start + 1, self.end)
        if not mask_delimiters:
            return (content,)
        return (range(self.start, self.start + 1), content, range(self.end, self.summary_start))


@dataclass(frozen=True, slots=True)
class Closing:
    """What the ``<|summary_end|>`` at ``block.summary_end`` sets off, before it is fed.

    ``evict``: positions whose entries are dropped now. ``recompute`` (restart mode only): the
    kept positions between the block's content and the ``<|summary_end|>``, whose entries are
    dropped too and computed again, with the ``<|summary_end|>``, without the content visible.
    """

    block: Block
    evict: tuple[range, ...]
    recompute: range = range(0)


class BlockTracker:
    """The state machine of one assistant turn over the four memento tokens.

    ``push(kind)`` takes the next token (its position is ``position`` before the call) and returns
    a :class:`Closing` when it is a ``<|summary_end|>`` that closes a well-formed block. A tag out
    of order counts as a violation and is otherwise treated as text, so nothing is dropped on a
    malformed turn. ``live`` is how many positions are still held: fed minus dropped.

    >>> t = BlockTracker(Mode.parse("memento"))
    >>> t.push(None, 3)            # prompt
    >>> for kind in (fmt.BLOCK_START, None, None, fmt.BLOCK_END, None, fmt.SUMMARY_START, None):
    ...     t.push(kind)
    >>> t.push(fmt.SUMMARY_END)
    Closing(block=Block(start=3, end=6, summary_start=8, summary_end=10), evict=(range(4, 6),), recompute=range(0, 0))
    >>> t.position, t.live
    (11, 9)
    """

    def __init__(self, mode: Mode, mask_delimiters: bool = False) -> None:
        self.mode = mode
        self.mask_delimiters = mask_delimiters
        self.position = 0
        self.state = OUTSIDE
        self.blocks: list[Block] = []
        self.violations = 0
        self.dropped = 0
        self._tags: list[int] = []       # positions of the open block's tags so far

    @property
    def live(self) -> int:
        return self.position - self.dropped

    @property
    def open_content_tokens(self) -> int:
        """Tokens of the open block's content so far (0 outside a block's content)."""
        return self.position - self._tags[0] - 1 if self.state == CONTENT else 0

    def push(self, kind: str | None, count: int = 1) -> Closing | None:
        if kind is None:
            self.position += count
            return None
        position = self.position
        self.position += 1
        expected, following = _TRANSITIONS[kind]
        if self.state != expected:
            self.violations += 1
            return None
        self.state = following
        if kind == fmt.BLOCK_START:
            self._tags = []
        self._tags.append(position)
        if kind != fmt.SUMMARY_END:
            return None
        block = Block(*self._tags)
        self.blocks.append(block)
        return self._close(block)

    def _close(self, block: Block) -> Closing:
        if not self.mode.evicts:
            return Closing(block, ())
        target = len(self.blocks) - 1 - self.mode.keep_last_n
        evict = self.blocks[target].hidden(self.mask_delimiters) if target >= 0 else ()
        self.dropped += sum(len(r) for r in evict)
        recompute = range(0)
        if self.mode.restart:
            first = block.summary_start if self.mask_delimiters else block.end
            recompute = range(first, block.summary_end)
        return Closing(block, evict, recompute)
