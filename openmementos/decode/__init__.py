"""MEMENTO inference: a reference decoder that drops each finished block's KV entries.

One module per concern: ``blocks`` (the state machine over the four memento tokens and the
modes: full, memento, keep-last-N, restart), ``config`` (decoding options), ``kvcache``
(dropping entries from a transformers ``DynamicCache`` in every layer), ``decoder`` (the
generation loop), ``metrics`` (peak KV, KV AUC and the rest per generation), ``replay`` (the
same accounting from memento-format text, without a model) and ``models`` (named model shapes
for KV bytes). Importing this package imports nothing heavy; only ``decoder`` and ``kvcache``
need torch.
"""
