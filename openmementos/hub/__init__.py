"""Publishing: statistics and plots of shards, the dataset card, and ``push-to-hub``.

Importing this package is cheap: polars, matplotlib and ``huggingface_hub`` load in the modules
that need them (:mod:`.stats`, :mod:`.plots`, :mod:`.push`).
"""
