"""Read monitor specs from TOML or YAML files and validate them (``driftline.config.monitor_spec``)."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from pathlib import Path

import yaml

from driftline.config import ModelSpec, MonitorConfig, SpecError, parse_monitor_config


def load_monitor_config(path: Path) -> MonitorConfig:
    """Parse ``path`` (``.toml``, ``.yaml`` or ``.yml``); every problem names the file and the field."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise SpecError(str(path), [f"cannot read: {exc.strerror}"]) from None
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            data = tomllib.loads(text)
        elif suffix in {".yaml", ".yml"}:
            data = yaml.safe_load(text)
        else:
            raise SpecError(str(path), [f"unknown spec format {suffix!r}: use .toml, .yaml or .yml"])
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise SpecError(str(path), [f"not valid {suffix[1:].upper()}: {exc}"]) from None
    return parse_monitor_config(data, source=str(path))


def load_monitor_specs(paths: Iterable[Path]) -> dict[str, ModelSpec]:
    """Every model's spec from these files; a model named in two files is an error naming both."""
    specs: dict[str, ModelSpec] = {}
    origin: dict[str, Path] = {}
    for path in paths:
        for model_id, spec in load_monitor_config(path).models.items():
            if model_id in specs:
                raise SpecError(str(path), [f"models.{model_id}: already specified in {origin[model_id]}"])
            specs[model_id], origin[model_id] = spec, path
    return specs
