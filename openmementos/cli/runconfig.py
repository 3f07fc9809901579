"""``--config run.yaml``: a command's options from a YAML file; options on the command line win.

The file's keys are the command's option names, with dashes or underscores (``min-block-tokens``
or ``min_block_tokens``; ``lambda`` for ``--lambda``). The values become Click's defaults for
this invocation (``ctx.default_map``), so they are converted and checked exactly as typed
options are, and anything given on the command line overrides them. An unknown key is refused
in one line that names it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import click

from ..errors import ConfigError

META_KEY = "openmementos.config_file"


def _names(command: click.Command) -> dict[str, click.Parameter]:
    """Every spelling a key may use -> the parameter: its name and its long options, each with
    dashes or underscores."""
    names: dict[str, click.Parameter] = {}
    for param in command.params:
        if param.name is None:
            continue
        spellings = {param.name} | {opt.lstrip("-") for opt in getattr(param, "opts", []) if opt.startswith("--")}
        for spelling in spellings:
            names[spelling] = names[spelling.replace("-", "_")] = names[spelling.replace("_", "-")] = param
    return names


def load_config_file(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """Eager callback of ``--config``: read the file and make its values this command's defaults."""
    if value is None:
        return None
    import yaml

    path = Path(value)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read the config file {path}: {error.strerror or error}", "check the --config path") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        at = f" (line {where.line + 1})" if where is not None else ""
        raise ConfigError(f"{path} is not valid YAML{at}", "write one option per line, e.g. min-block-tokens: 300") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must map option names to values, not hold a {type(data).__name__}",
                          "write one option per line, e.g. teacher: heuristic")
    names = _names(ctx.command)
    defaults: dict[str, Any] = {}
    for key, setting in data.items():
        target = names.get(str(key))
        if target is param:
            raise ConfigError(f"{path}: a config file cannot name another one ({str(key)!r})", "give one --config")
        if target is None or target.name == "help":
            raise ConfigError(f"{path}: unknown key {str(key)!r}",
                              f"keys are the options of 'openmementos {ctx.command.name} --help', without the dashes")
        if getattr(target, "multiple", False) and not isinstance(setting, (list, tuple)):
            setting = [setting]   # a single value where the option may be repeated
        defaults[target.name] = setting
    ctx.default_map = {**(ctx.default_map or {}), **defaults}
    ctx.meta[META_KEY] = {"name": path.name, "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(), "keys": sorted(defaults)}
    return value


def merged_options(ctx: click.Context, leave_out: tuple[str, ...] = ()) -> dict[str, Any]:
    """The options this command ran with after the merge, as JSON values, and where each came
    from: ``command line``, ``config file`` or ``default``."""
    sources = {click.core.ParameterSource.COMMANDLINE: "command line", click.core.ParameterSource.DEFAULT_MAP: "config file",
               click.core.ParameterSource.ENVIRONMENT: "environment"}
    values, origin = {}, {}
    for name, value in sorted(ctx.params.items()):
        if name in leave_out:
            continue
        values[name] = _plain(value)
        source = ctx.get_parameter_source(name)
        if source in sources:
            origin[name] = sources[source]
    return {"values": values, "set_by": origin, "config_file": ctx.meta.get(META_KEY)}


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
