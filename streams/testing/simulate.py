"""A simulated fraud model's traffic: 20 numeric and 3 categorical features and a score, seeded.

Used by the demo, the end-to-end tests and the benchmarks. ``shift`` moves chosen
numeric features, ``category_shift`` makes chosen categorical features take one
value more often, and ``score_shift`` moves the model's scores (prediction drift
without covariate drift), so a test knows exactly which features should alert.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from driftline.config import PREDICTION_FEATURE
from driftline.detectors import ModelReference

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
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class FraudSimulator:
    """Seeded traffic of a fraud model; ``shift`` maps a numeric feature to a shift in its own std units."""

    model_id: str = "fraud-detector"
    model_version: str = "2026.01"
    seed: int = 7
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
        """The full reference: numeric features, categorical features and the score (``__prediction__``)."""
        rng = np.random.default_rng(self.seed + 1)
        values = self.numeric_sample(n, rng)
        numeric = {name: values[:, i] for i, name in enumerate(NUMERIC_FEATURES)}
        numeric[PREDICTION_FEATURE] = self._scores(values, 0.0)
        categorical = {name: rng.choice(options, size=n).tolist() for name, options in CATEGORICAL_FEATURES.items()}
        return ModelReference.build(self.model_id, version or self.model_version, numeric, categorical=categorical)

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
        start = EPOCH.timestamp() + window * window_seconds
        for i in range(n):
            features: dict[str, object] = {name: float(numeric[i, j]) for j, name in enumerate(NUMERIC_FEATURES)}
            features.update({name: str(values[i]) for name, values in categories.items()})
            yield {
                "schema_version": 1,
                "model_id": self.model_id,
                "model_version": self.model_version,
                "prediction_id": f"{self.model_id}-{window}-{i}",
                "ts": start + window_seconds * i / n,
                "features": features,
                "prediction": float(scores[i]),
            }
