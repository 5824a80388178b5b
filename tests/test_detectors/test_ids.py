"""Alert and trigger ids: same inputs, same id (across runs and time zones); different inputs, different ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from driftline.detectors.ids import alert_id, trigger_id

START = datetime(2026, 1, 1, tzinfo=UTC)
BASE = {"model_id": "m", "feature": "x", "detector": "psi", "window_start": START,
        "window_end": START + timedelta(minutes=5), "state": "firing", "reference_version": "v1"}
text = st.text(max_size=20)
instants = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))


def test_ids_are_pinned_across_releases() -> None:
    # A replay after an upgrade must publish the same ids, so the encoding itself is pinned.
    assert alert_id(**BASE) == "37b6d4e6ed350116a95e1143bc5b2a73"
    assert trigger_id(model_id="m", rule="performance", alert_ids=["a", "b"]) == "654410331bb362939315badbff1e9fbc"


@given(text, text, text, instants, instants, st.sampled_from(["firing:warning", "resolved:critical"]), text)
def test_same_inputs_same_id(model: str, feature: str, detector: str, start: datetime, end: datetime, state: str,
                             ref: str) -> None:
    args = {"model_id": model, "feature": feature, "detector": detector, "window_start": start,
            "window_end": end, "state": state, "reference_version": ref}
    first = alert_id(**args)
    assert alert_id(**dict(args)) == first
    assert len(first) == 32 and int(first, 16) >= 0


@given(st.sampled_from(sorted(BASE)), st.data())
def test_changing_any_one_input_changes_the_id(field: str, data: st.DataObject) -> None:
    original = BASE[field]
    if isinstance(original, datetime):
        new = data.draw(instants.filter(lambda t: t != original))
    else:
        new = data.draw(text.filter(lambda t: t != original))
    assert alert_id(**(BASE | {field: new})) != alert_id(**BASE)


def test_fields_do_not_run_into_each_other() -> None:
    # a naive "m" + "x|y" concatenation would collide; the canonical JSON does not
    assert alert_id(**(BASE | {"model_id": "m|x", "feature": "y"})) != alert_id(
        **(BASE | {"model_id": "m", "feature": "x|y"}))


def test_the_same_instant_in_another_zone_is_the_same_id() -> None:
    cet = timezone(timedelta(hours=1))
    shifted = BASE | {"window_start": START.astimezone(cet), "window_end": BASE["window_end"].astimezone(cet)}
    assert alert_id(**shifted) == alert_id(**BASE)


def test_naive_times_and_non_text_fields_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        alert_id(**(BASE | {"window_start": datetime(2026, 1, 1)}))
    with pytest.raises(TypeError, match="feature"):
        alert_id(**(BASE | {"feature": 3}))
    with pytest.raises(TypeError, match="alert_ids"):
        trigger_id(model_id="m", rule="r", alert_ids=["a", 1])  # type: ignore[list-item]


@given(st.lists(text, min_size=1, max_size=6, unique=True), st.randoms())
def test_trigger_ids_ignore_alert_order_but_not_membership(ids: list[str], rnd: object) -> None:
    shuffled = list(ids)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert trigger_id(model_id="m", rule="r", alert_ids=shuffled) == trigger_id(model_id="m", rule="r", alert_ids=ids)
    assert trigger_id(model_id="m", rule="r", alert_ids=ids[1:]) != trigger_id(model_id="m", rule="r", alert_ids=ids)
    assert trigger_id(model_id="n", rule="r", alert_ids=ids) != trigger_id(model_id="m", rule="r", alert_ids=ids)
    assert trigger_id(model_id="m", rule="s", alert_ids=ids) != trigger_id(model_id="m", rule="r", alert_ids=ids)


def test_alert_and_trigger_ids_live_in_separate_spaces() -> None:
    assert trigger_id(model_id="m", rule="r", alert_ids=[]) != alert_id(**BASE)
