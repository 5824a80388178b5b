"""Monitor specs load from TOML and YAML, and every mistake names the file, the field and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftline.config.monitor_spec import CategoricalFeature, CountWindow, SpecError
from driftline.streams.cli.spec_files import load_monitor_config

TOML = """
[models.fraud-detector]
window = { kind = "count", size = 5000 }
features.amount = { kind = "numeric", tests = ["psi", "ks"] }
features.channel = { kind = "categorical", max_categories = 20 }
prediction = { kind = "numeric" }
online = [
  { detector = "adwin", stream = "prediction" },
  { detector = "ddm", stream = "error" },
  { detector = "page_hinkley", stream = "feature", feature = "amount", params = { threshold = 30.0 } },
]
thresholds = { ert_windows = 500 }
alert_policy = { fire_after = 2, resolve_after = 3, cooldown_seconds = 3600 }
segments = ["region"]
join_labels = true
"""


def test_toml_and_yaml_give_the_same_config(tmp_path: Path) -> None:
    toml_file = tmp_path / "spec.toml"
    toml_file.write_text(TOML)
    config = load_monitor_config(toml_file)
    model = config.models["fraud-detector"]
    assert model.window == CountWindow(kind="count", size=5000)
    assert isinstance(model.features["channel"], CategoricalFeature)
    assert model.thresholds.ert_windows == 500 and model.thresholds.psi_critical == 0.25
    import yaml

    yaml_file = tmp_path / "spec.yaml"
    yaml_file.write_text(yaml.safe_dump(config.model_dump(mode="json")))
    assert load_monitor_config(yaml_file) == config


@pytest.mark.parametrize(
    ("snippet", "message"),
    [
        ('features.x = { kind = "numeric", tests = ["psy"] }', "features.x: unknown numeric feature test 'psy'"),
        ('features.x = { kind = "ordinal" }', "features.x"),
        ('online = [{ detector = "ddm", stream = "prediction" }]', "ddm watches a 0/1 error stream"),
        ('online = [{ detector = "adwin", stream = "error" }]', "adwin watches a real-valued stream"),
        ('online = [{ detector = "ddm", stream = "error" }]', "set join_labels = true"),
        ('online = [{ detector = "adwn", stream = "prediction" }]', "unknown online detector 'adwn'"),
        ('online = [{ detector = "adwin", stream = "feature", feature = "nope" }]', "unknown feature 'nope'"),
        ('alert_policy = { fire_aftr = 2 }', "alert_policy.fire_aftr: Extra inputs are not permitted"),
        ('window = { kind = "sliding", size_seconds = 300, step_seconds = 70 }', "multiple of step_seconds"),
        ('thresholds = { psi_warning = 0.3 }', "psi_warning must be below psi_critical"),
    ],
)
def test_mistakes_name_file_field_and_problem(tmp_path: Path, snippet: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(f"[models.m]\n{snippet}\n")
    with pytest.raises(SpecError) as info:
        load_monitor_config(path)
    text = str(info.value)
    assert text.startswith(f"{path}: models.m") and message in text, text


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="cannot read"):
        load_monitor_config(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[models.m\n")
    with pytest.raises(SpecError, match="not valid TOML"):
        load_monitor_config(broken)
    other = tmp_path / "spec.json"
    other.write_text("{}")
    with pytest.raises(SpecError, match="unknown spec format"):
        load_monitor_config(other)
