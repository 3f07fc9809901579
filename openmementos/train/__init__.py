"""MEMENTO SFT (``openmementos train-sft``): the optional ``train`` extra.

One module per step: ``config`` (the recipe), ``data`` (rows to ids and labels), ``tokens``
(special tokens and their embeddings), ``masks`` (the stage-2 memento mask), ``collator``,
``attention`` (the model takes mask metadata) and ``trainer`` (TRL's SFTTrainer, stages,
checkpoints, run cards). Importing this package imports nothing heavy; ``config`` never imports
torch, so the CLI can build its help without the extra installed.
"""
