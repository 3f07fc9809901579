"""The recipe: the paper's defaults, YAML loading, and which source wins."""

from __future__ import annotations

import dataclasses

import pytest

from openmementos.errors import ConfigError
from openmementos.train.config import SFTRecipe, field_names, help_text, load_recipe


def test_defaults_are_the_papers_recipe():
    r = SFTRecipe()
    assert (r.learning_rate, r.lr_scheduler, r.warmup_ratio) == (8e-5, "cosine", 0.05)
    assert (r.adam_beta1, r.adam_beta2, r.weight_decay, r.max_grad_norm) == (0.9, 0.999, 0.0, 1.0)
    assert (r.epochs, r.seed, r.max_length, r.gradient_checkpointing) == (5.0, 42, 32768, True)
    assert r.bf16 is None and r.embedding_noise_std == 0.01          # bf16 follows the GPU
    assert (r.mask_delimiters, r.keep_last_n_blocks, r.over_long) == (False, 0, "truncate")


def test_every_field_has_help_text():
    for name in field_names():
        assert len(help_text(name)) > 20, name


def test_yaml_overrides_defaults_and_options_override_yaml(tmp_path):
    file = tmp_path / "recipe.yaml"
    file.write_text("learning_rate: 1e-4\nepochs: 3\nbf16: null\nmask_delimiters: true\n")
    recipe = load_recipe(file)
    assert (recipe.learning_rate, recipe.epochs, recipe.bf16, recipe.mask_delimiters) == (1e-4, 3.0, None, True)
    assert recipe.replace(epochs=1, learning_rate=None).epochs == 1.0         # None: not given on the command line
    assert recipe.replace(epochs=1).learning_rate == 1e-4
    (tmp_path / "nested.yaml").write_text("recipe:\n  seed: 7\n")
    assert load_recipe(tmp_path / "nested.yaml").seed == 7


@pytest.mark.parametrize(
    "text, message",
    [
        ("learning_rte: 1e-4\n", "unknown recipe field"),
        ("epochs: five\n", "epochs expects float"),
        ("max_length: 1.5\n", "max_length expects int"),
        ("attention: triton\n", "attention must be one of auto, dense, flex"),
        ("seed: null\n", "seed cannot be null"),
        ("- 1\n- 2\n", "must hold a mapping"),
        ("warmup_ratio: 1.5\n", "warmup_ratio must be in"),
    ],
)
def test_bad_recipe_files_are_refused_with_a_message_naming_the_field(tmp_path, text, message):
    file = tmp_path / "bad.yaml"
    file.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_recipe(file)


def test_the_recipe_is_frozen_and_its_digest_changes_with_any_field():
    recipe = SFTRecipe()
    with pytest.raises(dataclasses.FrozenInstanceError):
        recipe.seed = 1  # type: ignore[misc]
    assert recipe.digest() == SFTRecipe().digest() != recipe.replace(keep_last_n_blocks=1).digest()


def test_the_shipped_recipe_file_is_the_papers_defaults():
    from pathlib import Path

    import openmementos.train as train

    folder = Path(train.__file__).parent
    recipe = load_recipe(folder / "recipe.yaml")
    assert recipe == SFTRecipe()


def test_the_shipped_accelerate_configs_name_fsdp_and_deepspeed_zero_2_and_3():
    from pathlib import Path

    import yaml

    import openmementos.train as train

    folder = Path(train.__file__).parent / "accelerate"
    configs = {p.stem: yaml.safe_load(p.read_text()) for p in folder.glob("*.yaml")}
    assert configs["fsdp"]["distributed_type"] == "FSDP" and configs["fsdp"]["fsdp_config"]["fsdp_version"] == 2
    assert configs["zero2"]["deepspeed_config"]["zero_stage"] == 2
    assert configs["zero3"]["deepspeed_config"]["zero_stage"] == 3
    assert all(c["mixed_precision"] == "bf16" for c in configs.values())
