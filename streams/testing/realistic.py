"""A model's traffic with the shapes production data has: flags, counts, codes, nulls, strings where numbers
belong, unseen categories, a zero-inflated amount and a class-probability prediction. Seeded.

The stationary profile (:data:`STATIONARY`) holds every such imperfection at a steady rate, and the reference
is built from the same profile, so a monitor that is quiet on it is quiet on real data's usual mess; a
:class:`Profile` with one rate changed is one realistic incident (a flag's rate jumps, a code's mix changes, a
feature goes null or disappears, a producer starts sending strings, a new category appears).

=====================  ====================================================================================
feature                shape
=====================  ====================================================================================
``amount``             zero-inflated: 60 % exactly 0, the rest lognormal; 0.2 % strings (``"N/A"``)
``is_new_customer``    a 0/1 flag, 3 % ones (some sent as booleans)
``items``              a count: Poisson(2)
``region_code``        an integer code 1–8 with an uneven mix
``income``             normal, 1 % null
``tenure_days``        uniform 0–3650, sometimes absent from the event (0.5 %)
``channel``            categorical web / app / pos; 0.1 % of values never seen in training (``"kiosk"``)
prediction             ``{"legit": p, "fraud": 1 - p, "review": ...}``: a probability map
=====================  ====================================================================================
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np

from driftline.detectors import ModelReference
from driftline.streams.references.training_data import columns_from_rows

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
CLASSES = ("legit", "fraud", "review")
REGION_MIX = (0.3, 0.2, 0.15, 0.1, 0.1, 0.07, 0.05, 0.03)
CHANNEL_MIX = {"web": 0.55, "app": 0.35, "pos": 0.1}


@dataclass(frozen=True)
class Profile:
    """The rates of one stretch of traffic; :data:`STATIONARY` is the training data's."""

    flag_rate: float = 0.03
    region_mix: tuple[float, ...] = REGION_MIX
    income_null: float = 0.01
    tenure_absent: float = 0.005
    amount_strings: float = 0.002
    unseen_channel: float = 0.001
    new_channel: str = "kiosk"
    fraud_logit: float = -3.0
    """The fraud class's mean logit (a class-mix shift moves it)."""
    income_shift: float = 0.0
    """The income's mean moved by this many of its standard deviations (a covariate shift)."""
    channel_mix: tuple[float, ...] = tuple(CHANNEL_MIX.values())
    """web, app and pos shares."""


STATIONARY = Profile()


ABSENT: Any = object()
"""A value left out of its event (the feature's key is not sent)."""


def shaped_columns(n: int, rng: np.random.Generator, profile: Profile = STATIONARY) -> dict[str, list[Any]]:
    """``n`` values of each imperfect column but the amount and the channel: ``is_new_customer`` (a flag,
    30 % sent as booleans), ``items`` (a count), ``region_code`` (an integer code), ``income`` (with nulls)
    and ``tenure_days`` (:data:`ABSENT` from some events)."""
    flags = rng.random(n) < profile.flag_rate
    as_bool = rng.random(n) < 0.3
    mix = np.asarray(profile.region_mix) / sum(profile.region_mix)
    income = np.round(rng.normal(55_000 + profile.income_shift * 15_000, 15_000, n), 0)
    income_null = rng.random(n) < profile.income_null
    tenure = np.round(rng.uniform(0, 3650, n), 1)
    tenure_absent = rng.random(n) < profile.tenure_absent
    return {
        "is_new_customer": [bool(f) if b else int(f) for f, b in zip(flags, as_bool, strict=True)],
        "items": rng.poisson(2.0, n).tolist(),
        "region_code": rng.choice(np.arange(1, len(mix) + 1), size=n, p=mix).tolist(),
        "income": [None if null else v for v, null in zip(income.tolist(), income_null, strict=True)],
        "tenure_days": [ABSENT if absent else v for v, absent in zip(tenure.tolist(), tenure_absent, strict=True)],
    }


def zero_inflated(n: int, rng: np.random.Generator) -> list[float]:
    """An amount that is exactly 0 60 % of the time, lognormal otherwise (cents)."""
    zero = rng.random(n) < 0.6
    values: list[float] = np.where(zero, 0.0, np.round(rng.lognormal(3.5, 1.0, n), 2)).tolist()
    return values


def with_strings(values: list[Any], rate: float, rng: np.random.Generator, text: str = "N/A") -> list[Any]:
    """``values`` with a share ``rate`` replaced by a string (a producer's placeholder for "no number")."""
    hit = rng.random(len(values)) < rate
    return [text if h else v for v, h in zip(values, hit, strict=True)]


def with_unseen(values: list[Any], rate: float, new: str, rng: np.random.Generator) -> list[Any]:
    """``values`` with a share ``rate`` replaced by a category the training data never had."""
    return with_strings(values, rate, rng, text=new)


def as_rows(columns: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Columns of equal length as rows, leaving :data:`ABSENT` values out."""
    names = list(columns)
    return [{name: v for name, v in zip(names, values, strict=True) if v is not ABSENT}
            for values in zip(*columns.values(), strict=True)]


@dataclass(frozen=True)
class RealisticModel:
    model_id: str = "realistic"
    model_version: str = "2026.01"
    seed: int = 11

    def rows(self, n: int, rng: np.random.Generator, profile: Profile = STATIONARY) -> list[dict[str, Any]]:
        """``n`` rows of features and their probability-map prediction (under ``"prediction"``)."""
        columns = {"amount": with_strings(zero_inflated(n, rng), profile.amount_strings, rng),
                   **shaped_columns(n, rng, profile)}
        mix = np.asarray(profile.channel_mix) / sum(profile.channel_mix)
        channel = rng.choice(list(CHANNEL_MIX), size=n, p=mix).tolist()
        columns["channel"] = with_unseen(channel, profile.unseen_channel, profile.new_channel, rng)
        flags = np.asarray(columns["is_new_customer"], dtype=float)
        fraud = 1 / (1 + np.exp(-(profile.fraud_logit + 0.8 * flags + rng.normal(0, 1, n))))
        review = rng.uniform(0.0, 0.1, n) * (1 - fraud)
        legit = 1.0 - fraud - review
        columns["prediction"] = [{"legit": round(float(lg), 4), "fraud": round(float(f), 4),
                                  "review": round(float(r), 4)} for lg, f, r in zip(legit, fraud, review, strict=True)]
        return as_rows(columns)

    def reference(self, n: int = 20_000, *, version: str | None = None) -> ModelReference:
        """Built as ``driftline reference build`` builds it from these rows as training data (``region_code``
        declared categorical: its values are names)."""
        rows = self.rows(n, np.random.default_rng(self.seed + 1))
        columns = columns_from_rows(rows, source="training", prediction="prediction", categorical=["region_code"])
        return ModelReference.build(self.model_id, version or self.model_version, columns.numeric,
                                    categorical=columns.categorical, mismatched_of=columns.mismatched)

    def events(self, *, window: int, n: int, window_seconds: int = 60, profile: Profile = STATIONARY,
               tag: str = "") -> Iterator[dict[str, object]]:
        """``n`` PredictionEvent dicts evenly spread over event-time window number ``window``."""
        rng = np.random.default_rng((self.seed, window, len(tag)))
        start = EPOCH.timestamp() + window * window_seconds
        for i, row in enumerate(self.rows(n, rng, profile)):
            prediction = row.pop("prediction")
            yield {"schema_version": 1, "model_id": self.model_id, "model_version": self.model_version,
                   "prediction_id": f"{self.model_id}{tag}-{window}-{i}", "ts": start + window_seconds * i / n,
                   "features": row, "prediction": prediction}


def shifted(**rates: Any) -> Profile:
    """The stationary profile with some rates changed: ``shifted(flag_rate=0.4)``."""
    return replace(STATIONARY, **rates)
