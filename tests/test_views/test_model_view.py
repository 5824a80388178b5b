"""The views layer on made-up history (no Redis): ranking, alert states, the payload's JSON, the status
table, and a report that needs no network."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import numpy as np
import pytest

from driftline.config.events import PERFORMANCE_FEATURE, DriftAlert, RetrainTrigger, TimeWindow
from driftline.detectors import PerformanceState, alpha_for, band_at
from driftline.detectors.reference import ModelReference
from driftline.streams.state.history import FeaturePoint, WindowPoint
from driftline.views.figures import feature_columns
from driftline.views.model_view import ModelView, build_model_view
from driftline.views.page import TIMELINE, view_payload
from driftline.views.report import report_html, report_json
from driftline.views.status import status_table

T0 = 1767225600.0
HOUR = 3600.0
DRIFT = range(10, 20)


def _window(a: float, b: float) -> TimeWindow:
    return TimeWindow(start=datetime.fromtimestamp(a, UTC), end=datetime.fromtimestamp(b, UTC))


def _alert(state: str, window: int, statistic: float) -> DriftAlert:
    return DriftAlert(alert_id=f"{state}-{window}", model_id="m", feature="amount", detector="psi",
                      statistic=statistic, threshold=0.2, severity="critical", state=state,  # type: ignore[arg-type]
                      window=_window(T0 + window * HOUR, T0 + (window + 1) * HOUR), reference_version="r1",
                      n_reference=5000, n_current=1000)


@pytest.fixture(scope="module")
def reference() -> ModelReference:
    rng = np.random.default_rng(1)
    return ModelReference.build(
        "m", "r1", {"amount": rng.lognormal(3, 1, 5000), "age": rng.normal(40, 10, 5000)},
        categorical={"channel": rng.choice(["web", "app", "pos"], 5000).tolist()},
    )


def _history(reference: ModelReference, windows: int, drifting_until: int) -> list[WindowPoint]:
    points = []
    for w in range(windows):
        features = {}
        for name, ref in reference.features.items():
            drift = name == "amount" and DRIFT.start <= w < min(DRIFT.stop, drifting_until)
            counts = tuple(reversed(ref.counts)) if drift else ref.counts
            features[name] = FeaturePoint("psi", 0.4 if drift else 0.02, 0.2, None, "critical" if drift else None,
                                          sum(counts), counts)
        points.append(WindowPoint(w, T0 + w * HOUR, T0 + (w + 1) * HOUR, features))
    return points


def _view(reference: ModelReference, *, windows: int = 15, firing: bool = True) -> ModelView:
    alerts = [_alert("firing", 10, 0.4)] + ([] if firing else [_alert("resolved", 21, 0.02)])
    trigger = RetrainTrigger(trigger_id="t1", model_id="m", reason="critical drift", alert_ids=["firing-10"],
                             policy="drift", training_window=_window(T0, T0 + 11 * HOUR), evidence={"amount": 0.4})
    return build_model_view("m", reference, _history(reference, windows, windows), alerts, [trigger],
                            ["amount||psi"] if firing else [], labels={"joined": 10, "errors": 3, "unmatched": 1},
                            performance={w: {"n": 10, "err": 3} for w in range(windows)})


def test_the_drifted_feature_is_on_top_and_the_others_are_ok(reference: ModelReference) -> None:
    view = _view(reference)
    assert view.features[0].key == "amount"
    assert (view.features[0].verdict, view.features[0].alert) == ("DRIFT", "firing")
    assert view.drifted == ["amount"]
    assert {f.key: f.verdict for f in view.features[1:]} == {"age": "ok", "channel": "ok", PERFORMANCE_FEATURE: "ok"}
    amount = view.feature("amount")
    assert amount.series.statistic[-5:] == [0.4] * 5 and len(amount.series.end) == 15
    assert amount.current == list(reversed(amount.reference))  # the last window, on the reference's bins
    assert [m.state for m in amount.alerts] == ["firing"]


def test_a_resolved_alert_reads_resolved_and_the_feature_ok(reference: ModelReference) -> None:
    view = _view(reference, windows=25, firing=False)
    amount = view.feature("amount")
    assert (amount.verdict, amount.alert) == ("ok", "resolved")
    assert view.features[0].key == "amount"  # resolved ranks above never alerted
    assert [m.state for m in amount.alerts] == ["firing", "resolved"]


def test_categorical_bins_end_with_other_and_performance_is_an_error_rate(reference: ModelReference) -> None:
    view = _view(reference)
    assert view.feature("channel").bins[-1] == "other"
    performance = view.feature(PERFORMANCE_FEATURE)
    assert performance.kind == "performance" and performance.series.statistic == [0.3] * 15


def test_performance_is_drawn_against_the_reference_band_with_each_windows_label_completeness(
    reference: ModelReference,
) -> None:
    judged = PerformanceState(reference={"n": 2000, "err": 160}, firing=True, alpha=alpha_for(10_000))
    view = build_model_view("m", reference, _history(reference, 4, 4), [], [], [], labels={"joined": 400},
                            performance={w: {"n": 100, "err": 20, "predicted": 200} for w in range(4)},
                            judged=judged)
    performance = view.feature(PERFORMANCE_FEATURE)
    assert (performance.test, performance.alert, performance.verdict) == ("error_rate", "firing", "DRIFT")
    band = band_at({"n": 2000, "err": 160}, 100, alpha=alpha_for(10_000))
    assert performance.series.threshold == [band] * 4 and 0.08 < band < 0.2  # 0.2 is beyond it
    assert performance.series.completeness == [0.5] * 4 and performance.reference == [0.92, 0.08]
    regression = build_model_view("m", reference, _history(reference, 2, 2), [], [], [], labels={"joined": 20},
                                  performance={w: {"n": 10, "ae": 5.0, "se": 3.0} for w in range(2)},
                                  judged=PerformanceState(reference={"n": 100, "ae": 40.0, "se": 20.0}))
    mae = regression.feature(PERFORMANCE_FEATURE)
    assert (mae.test, mae.series.statistic, mae.reference) == ("mae", [0.5, 0.5], [0.4])


def test_the_payload_is_strict_json_and_names_each_plot_source(reference: ModelReference) -> None:
    view = _view(reference)
    payload = view_payload(view, plots_for=["amount", TIMELINE], columns_for=["amount"])
    text = json.dumps(payload, allow_nan=False)  # raises on NaN
    assert set(payload["plots"]) == {"amount", TIMELINE}
    assert set(payload["plots"]["amount"]) == {"histogram", "over_time"}
    assert '"histogram:amount"' in text and '"statistic:amount"' in text and '"samples:amount"' in text
    assert set(feature_columns(view.feature("amount"))) == {"histogram:amount", "statistic:amount",
                                                            "alerts:amount", "samples:amount"}
    assert "<svg" in payload["sparklines"]["amount"]


def test_the_report_is_one_file_that_fetches_nothing(reference: ModelReference) -> None:
    html = report_html(_view(reference), generated_at=T0)
    markup = re.sub(r"<script[^>]*>.*?</script>", "<script></script>", html, flags=re.S)
    assert not re.search(r"""(src|href)\s*=\s*["'](?!data:)""", markup)  # nothing loaded (the browser test watches)
    assert html.count("<script") == 3  # BokehJS, the data, the page's script: all inline
    assert "Bokeh" in html and '"mode": "report"' in html
    assert len(html) < 3_000_000
    data = report_json(_view(reference), generated_at=T0)
    assert data["view"]["features"][0]["key"] == "amount" and "columns" in data


def test_status_reads_without_colour_and_colours_only_when_asked(reference: ModelReference) -> None:
    plain = status_table([_view(reference)])
    assert plain[0].split()[:3] == ["MODEL", "FEATURE", "TEST"]
    first = plain[1].split()
    assert first[:3] == ["m", "amount", "psi"] and "DRIFT" in first and "firing" in first
    assert "\033[" not in "".join(plain)
    assert plain[-1].split()[:3] == ["m", "labels:", "10"] and plain[-1].endswith(", 1 unmatched")
    coloured = status_table([_view(reference)], colour=True)
    assert "\033[31;1mDRIFT" in coloured[1] and re.sub(r"\033\[[0-9;]*m", "", coloured[1]) == plain[1]
    assert status_table([]) == ["no models yet: build a reference with `driftline reference build`"]


def test_without_history_the_rows_come_from_the_latest_window(reference: ModelReference) -> None:
    latest = {"amount": {"window": 9, "window_end": T0 + 10 * HOUR, "test": "psi", "statistic": 0.4,
                         "threshold": 0.2, "p_value": None, "severity": "critical", "n_current": 1000}}
    view = build_model_view("m", reference, [], [], [], ["amount||psi"], latest=latest)
    amount = view.features[0]
    assert (amount.key, amount.verdict, amount.alert, amount.n_current) == ("amount", "DRIFT", "firing", 1000)
    assert amount.window_end == T0 + 10 * HOUR and amount.current == [0.0] * len(amount.reference)
    assert {f.verdict for f in view.features[1:]} == {"no data"}


def test_a_data_quality_signal_is_its_own_row_with_its_own_alert_state(reference: ModelReference) -> None:
    latest = {"age|region=eu#missing": {"window": 9, "window_end": T0 + 10 * HOUR, "test": "missing",
                                        "statistic": 0.3, "threshold": 0.05, "p_value": 1e-9, "severity": "critical",
                                        "n_current": 1000},
              "__volume__#volume": {"baseline": {"counts": [1000], "last_window": 9}}}  # a baseline alone: no row
    missing = DriftAlert(alert_id="a1", model_id="m", feature="age", segment={"region": "eu"}, detector="missing",
                         statistic=0.3, threshold=0.05, severity="critical", state="firing",
                         window=_window(T0 + 9 * HOUR, T0 + 10 * HOUR), reference_version="r1",
                         n_reference=5000, n_current=1000)
    view = build_model_view("m", reference, [], [missing], [], ["age|region=eu|missing"], latest=latest)
    row = view.feature("age|region=eu#missing")
    assert (row.feature, row.segment, row.kind, row.alert, row.verdict) == ("age", "region=eu", "missing", "firing",
                                                                            "DRIFT")
    assert view.feature("age").alert == "ok"  # the distribution of age is not what fires
    assert "__volume__#volume" not in {f.key for f in view.features}
