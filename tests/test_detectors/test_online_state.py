"""Saved detector state: the byte format refuses anything it did not write, and never unpickles."""

from __future__ import annotations

import base64
import json
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftline.detectors.online import DETECTORS, OnlineDetector, StateError, make_detector
from driftline.detectors.online import base as base_module
from driftline.detectors.online import state as state_module
from driftline.detectors.online.real_valued import ADWINDetector, KSWINDetector

NAMES = sorted(DETECTORS)


def detector_with_values(name: str, n: int = 300) -> OnlineDetector:
    d = make_detector(name, **({"seed": 7} if name == "kswin" else {}))
    rng = np.random.default_rng(0)
    d.update_many((rng.random(n) < 0.2).astype(float) if d.HAS_WARNING else rng.normal(size=n))
    return d


def body_of(data: bytes) -> dict:
    return state_module.unpack(data)


def repack(body: dict) -> bytes:
    """Bytes with a valid header and checksum around an arbitrary body (what an attacker could write)."""
    return state_module.pack(body)


@pytest.mark.parametrize("name", NAMES)
def test_round_trip_is_byte_exact(name: str) -> None:
    data = detector_with_values(name).to_bytes()
    assert OnlineDetector.from_bytes(data).to_bytes() == data
    assert type(DETECTORS[name].from_bytes(data)) is DETECTORS[name]


@pytest.mark.parametrize("name", NAMES)
def test_damaged_bytes_are_refused_with_the_reason(name: str) -> None:
    data = detector_with_values(name).to_bytes()
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x01
    cases = [
        (bytes(flipped), "checksum"),
        (data[:10], "too short"),
        (data[:-1], "length"),
        (data + b"\0", "length"),
        (b"XXXX" + data[4:], "not a detector state"),
        (data[:4] + bytes([9]) + data[5:], "format 9 is not supported"),
        (data[:4] + bytes([1]) + data[5:], "format 1 is not supported"),  # the old pickle format
    ]
    for bad, reason in cases:
        with pytest.raises(StateError, match=reason):
            OnlineDetector.from_bytes(bad)


def test_state_of_another_detector_is_refused_by_a_subclass() -> None:
    with pytest.raises(StateError, match="not kswin"):
        KSWINDetector.from_bytes(detector_with_values("adwin").to_bytes())


@settings(max_examples=200)
@given(st.binary(max_size=400))
def test_garbage_bytes_always_raise_state_error(data: bytes) -> None:
    with pytest.raises(StateError):
        OnlineDetector.from_bytes(data)


@settings(max_examples=100)
@given(st.sampled_from(NAMES), st.integers(0, 10_000), st.integers(0, 255))
def test_any_single_byte_change_is_caught(name: str, position: int, value: int) -> None:
    data = bytearray(SAVED[name])
    position %= len(data)
    if data[position] == value:
        return
    data[position] = value
    with pytest.raises(StateError):
        OnlineDetector.from_bytes(bytes(data))


SAVED = {name: detector_with_values(name).to_bytes() for name in NAMES}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda b: b["state"].update(_p={"$obj": "subprocess.Popen", "fields": {}}), "unknown object"),
        (lambda b: b["state"].update(_p={"$rust": "AdaptiveWindowing", "args": [], "blob": "AA=="}), "Adaptive"),
        (lambda b: b["state"].update(_p_min="0.1"), "_p_min holds str"),
        (lambda b: b["state"].update(_p_min=float("nan")), "_p_min holds float"),
        (lambda b: b["state"].pop("_p"), "expected"),
        (lambda b: b["state"].update(extra=1), "expected"),
        (lambda b: b.update(name="cusum"), "'cusum'"),
        (lambda b: b.update(params={"warm_start": "x"}), "bad parameters"),
        (lambda b: b.update(params={"warm_start": True}), "bad parameters"),
        (lambda b: b.update(params={"nope": 1}), "bad parameters"),
        (lambda b: b.update(n_seen=-1), "n_seen"),
        (lambda b: b.pop("river"), "exactly"),
    ],
)
def test_well_formed_but_wrong_bodies_are_refused(change: object, reason: str) -> None:
    body = body_of(detector_with_values("ddm").to_bytes())
    change(body)  # type: ignore[operator]
    with pytest.raises(StateError, match=reason):
        OnlineDetector.from_bytes(repack(body))


def test_a_forged_rust_blob_is_refused_not_crashed_on() -> None:
    body = body_of(detector_with_values("adwin").to_bytes())
    helper = body["state"]["_helper"]
    blob = base64.b64decode(helper["blob"])
    for forged in [b"garbage", blob[:-3], blob + b"\0\0\0\0"]:
        body["state"]["_helper"] = {**helper, "blob": base64.b64encode(forged).decode()}
        with pytest.raises(StateError, match="AdaptiveWindowing"):
            OnlineDetector.from_bytes(repack(body))
    body["state"]["_helper"] = {**helper, "args": [0.5, 32, 5, 5, 10]}  # args that disagree with the blob
    with pytest.raises(StateError, match="round-trip"):
        OnlineDetector.from_bytes(repack(body))
    # a consistent window, but of an ADWIN with another delta than the saved parameters say
    body["state"]["_helper"] = body_of(ADWINDetector(delta=0.5).to_bytes())["state"]["_helper"]
    with pytest.raises(StateError, match="_helper"):
        OnlineDetector.from_bytes(repack(body))


def test_rust_state_from_another_river_version_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base_module.river, "__version__", "0.0.1")
    adwin, ddm = ADWINDetector().to_bytes(), detector_with_values("ddm").to_bytes()
    monkeypatch.undo()
    with pytest.raises(StateError, match=r"river 0\.0\.1"):
        OnlineDetector.from_bytes(adwin)
    # plain declared fields carry no build-specific encoding: they restore after a layout check
    assert OnlineDetector.from_bytes(ddm).n_seen == 300


def test_the_body_is_plain_json_with_declared_fields() -> None:
    data = detector_with_values("page_hinkley").to_bytes()
    magic, version, length = struct.unpack_from("<4sBI", data)
    body = json.loads(data[9 : 9 + length])
    assert (magic, version) == (b"DLOD", 2)
    assert set(body["state"]) == set(DETECTORS["page_hinkley"].STATE_FIELDS)
    assert body["state"]["_x_mean"] == {"$obj": "Mean", "fields": {"n": 300.0, "_mean": pytest.approx(0.0, abs=0.2)}}
