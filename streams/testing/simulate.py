"""A simulated fraud model's traffic: 20 clean numeric and 3 categorical features, the shapes production data
has beside them, and a score (or a probability map), seeded.

Used by the demo, the end-to-end tests and the benchmarks. ``shift`` moves chosen
numeric features, ``category_shift`` makes chosen categorical features take one
value more often, and ``score_shift`` moves the model's scores (prediction drift
without covariate drift), so a test knows exactly which features should alert.

Beside the clean features, at the steady rates of a :class:`~driftline.streams.testing.realistic.Profile`
(the training data has them too): a flag, a count, an integer code, a feature with nulls, one sometimes absent
from the event and a zero-inflated amount (:data:`SHAPED_FEATURES`); ``amount`` holds a few strings
(``"N/A"``) and ``channel`` a few values the training data never had (``"kiosk"``). Their own random stream
leaves the clean features' values as they were.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from driftline.config import PREDICTION_FEATURE, class_feature, top_class
from driftline.detectors import ModelReference
from driftline.streams.testing.realistic import (
    ABSENT,
    EPOCH,
    STATIONARY,
    Profile,
    as_rows,
    shaped_columns,
    with_strings,
    with_unseen,
    zero_inflated,
)

NUMERIC_FEATURES = (
    "amount", "account_age_days", "txn_count_1h", "txn_count_24h", "avg_amount_30d",
    "distance_from_home_km", "merchant_risk_score", "device_age_days", "ip_risk_score", "hour_of_day",
    "failed_logins_24h", "card_present_ratio", "chargebacks_1y", "velocity_score", "basket_size",
    "days_since_last_txn", "email_age_days", "shipping_billing_km", "session_seconds", "prior_fraud_score",
)
CATEGORICAL_FEATURES = {
    "channel": ("web", "app", "pos"),
    "country": ("US", "GB", "DE", "FR", "BR"),
    "card_type": ("debit", "credit", "prepaid"),
}
SHAPED_FEATURES = ("is_new_customer", "items", "region_code", "income", "tenure_days", "refund_amount")
CLASSES = ("legit", "fraud")
"""A probability map's classes: ``{"legit": 1 - p, "fraud": p}``."""
__all__ = ["CATEGORICAL_FEATURES", "CLASSES", "EPOCH", "NUMERIC_FEATURES", "SHAPED_FEATURES", "FraudSimulator"]


@dataclass(frozen=True)
class FraudSimulator:
    """Seeded traffic of a fraud model; ``shift`` maps a numeric feature to a shift in its own std units."""

    model_id: str = "fraud-detector"
    model_version: str = "2026.01"
    seed: int = 7
    profile: Profile | None = STATIONARY
    """The rates of the production shapes beside the clean features; None: the clean features alone."""
    probabilities: bool = False
    """The prediction as a ``{"legit": 1 - p, "fraud": p}`` map (its top class and each class's probability
    monitored) instead of the score ``p``."""
    _scales: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        scales = np.random.default_rng(self.seed).uniform(1.0, 50.0, size=len(NUMERIC_FEATURES))
        object.__setattr__(self, "_scales", scales)

    def numeric_sample(self, n: int, rng: np.random.Generator, shift: Mapping[str, float] | None = None) -> np.ndarray:
        """An ``(n, 20)`` array; feature ``i`` is normal with mean ``10 * scale_i`` and std ``scale_i``."""
        values = rng.normal(10.0, 1.0, size=(n, len(NUMERIC_FEATURES)))
        for name, sds in (shift or {}).items():
            values[:, NUMERIC_FEATURES.index(name)] += sds
        scaled: np.ndarray = values * self._scales
        return scaled

    def reference_sample(self, n: int = 20_000) -> dict[str, np.ndarray]:
        """Training data: one column per numeric feature."""
        values = self.numeric_sample(n, np.random.default_rng(self.seed + 1))
        return {name: values[:, i] for i, name in enumerate(NUMERIC_FEATURES)}

    def reference(self, n: int = 20_000, *, version: str | None = None) -> ModelReference:
        """The full reference: numeric features, categorical features, the shaped ones and the prediction
        (``__prediction__``; with ``probabilities``, the top class and ``__prediction__[<class>]``). The training
        data has no unseen channel (its production trickle is what ``unseen`` must stay quiet on)."""
        rng = np.random.default_rng(self.seed + 1)
        values = self.numeric_sample(n, rng)
        columns: dict[str, list[Any]] = {name: values[:, i].tolist() for i, name in enumerate(NUMERIC_FEATURES)}
        columns.update({name: rng.choice(options, size=n).tolist() for name, options in CATEGORICAL_FEATURES.items()})
        columns = self._shaped(columns, np.random.default_rng((self.seed + 1, 1)), unseen=False)
        columns.update(self._prediction_columns(self._scores(values, 0.0)))
        categorical = {name: columns.pop(name) for name in [*CATEGORICAL_FEATURES, PREDICTION_FEATURE]
                       if name in columns and not self._numeric_prediction(name)}
        numeric = {name: _sample([None if v is ABSENT else v for v in col]) for name, col in columns.items()}
        return ModelReference.build(self.model_id, version or self.model_version, numeric, categorical=categorical)

    def _numeric_prediction(self, name: str) -> bool:
        return name == PREDICTION_FEATURE and not self.probabilities

    def _shaped(self, columns: dict[str, list[Any]], rng: np.random.Generator, *, unseen: bool = True
                ) -> dict[str, list[Any]]:
        """``columns`` with the production shapes of :attr:`profile` (none when it is None)."""
        if self.profile is None:
            return columns
        n = len(columns["amount"])
        shaped = {**columns, **shaped_columns(n, rng, self.profile), "refund_amount": zero_inflated(n, rng)}
        shaped["amount"] = with_strings(columns["amount"], self.profile.amount_strings, rng)
        if unseen:
            shaped["channel"] = with_unseen(columns["channel"], self.profile.unseen_channel, self.profile.new_channel,
                                            rng)
        return shaped

    def _prediction_columns(self, scores: np.ndarray) -> dict[str, list[Any]]:
        if not self.probabilities:
            return {PREDICTION_FEATURE: scores.tolist()}
        maps = probability_maps(scores)
        return {PREDICTION_FEATURE: [top_class(m) for m in maps],
                **{class_feature(c): [m[c] for m in maps] for c in CLASSES}}

    def _scores(self, numeric: np.ndarray, shift: float) -> np.ndarray:
        scores: np.ndarray = 1.0 / (1.0 + np.exp(-(numeric[:, 6] / self._scales[6] - 10.0 + shift)))
        return scores

    def events(
        self,
        *,
        window: int,
        n: int,
        window_seconds: int = 60,
        shift: Mapping[str, float] | None = None,
        category_shift: Mapping[str, tuple[str, float]] | None = None,
        score_shift: float = 0.0,
    ) -> Iterator[dict[str, object]]:
        """``n`` PredictionEvent dicts evenly spread over event-time window number ``window``.

        ``category_shift`` maps a categorical feature to ``(value, p)``: each event takes that value
        with probability ``p`` on top of the usual mix. ``score_shift`` is added to the score's logit.
        """
        rng = np.random.default_rng((self.seed, window))
        numeric = self.numeric_sample(n, rng, shift)
        categories = {name: rng.choice(values, size=n) for name, values in CATEGORICAL_FEATURES.items()}
        for name, (value, p) in (category_shift or {}).items():
            categories[name] = np.where(rng.random(n) < p, value, categories[name])
        scores = self._scores(numeric, score_shift)
        columns: dict[str, list[Any]] = {name: numeric[:, j].tolist() for j, name in enumerate(NUMERIC_FEATURES)}
        columns.update({name: values.tolist() for name, values in categories.items()})
        features = as_rows(self._shaped(columns, np.random.default_rng((self.seed, window, 1))))
        predictions: list[Any] = probability_maps(scores) if self.probabilities else scores.tolist()
        start = EPOCH.timestamp() + window * window_seconds
        for i in range(n):
            yield {
                "schema_version": 1,
                "model_id": self.model_id,
                "model_version": self.model_version,
                "prediction_id": f"{self.model_id}-{window}-{i}",
                "ts": start + window_seconds * i / n,
                "features": features[i],
                "prediction": predictions[i],
            }


def _sample(values: list[Any]) -> Any:
    """A float array when every value is a number or null (the fast path of a reference build), else the list."""
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):  # a string among the numbers
        return values


def probability_maps(scores: np.ndarray) -> list[dict[str, float]]:
    """Each score ``p`` as the map ``{"legit": 1 - p, "fraud": p}`` (four decimals, as a model server logs it)."""
    return [{"legit": round(1.0 - p, 4), "fraud": round(p, 4)} for p in scores.tolist()]
