"""Optional dependencies: the core install runs ``segment`` and ``validate``; the rest comes in
extras (``pyproject.toml``), and a command that needs a missing one says which in one line.
"""

from __future__ import annotations

import importlib.util

from .errors import ConfigError

# import name -> the name pip installs it by, where they differ
_PIP_NAMES = {"yaml": "pyyaml", "math_verify": "math-verify", "huggingface_hub": "huggingface_hub"}


def missing(*modules: str) -> list[str]:
    """The modules of ``modules`` that are not installed (found without importing them)."""
    return [module for module in modules if importlib.util.find_spec(module) is None]


def require(feature: str, extra: str, *modules: str) -> None:
    """Raise a one-line :class:`ConfigError` naming the extra when ``feature`` lacks a module."""
    absent = missing(*modules)
    if absent:
        packages = " ".join(_PIP_NAMES.get(m, m) for m in absent)
        raise ConfigError(f"{feature} needs {', '.join(_PIP_NAMES.get(m, m) for m in absent)} (not installed)",
                          f"pip install '.[{extra}]' in the openmementos clone (or pip install {packages})")


def install_hint(extra: str) -> str:
    """How to install an extra, for messages and hints."""
    return f"pip install '.[{extra}]'"
