"""What to monitor for a model: its spec, added to what its reference profiles.

A model without an explicit spec gets the defaults (the worker's command-line
window and policy) with every reference feature monitored by its kind's default
tests, and the prediction when the reference profiles it. A model with a spec
gets the same inference for the features its spec does not name (``infer = false``
turns it off), and the spec's choices for those it names; either way only
features the reference profiles are compared (a window can only be compared with
what the reference holds).
"""

from __future__ import annotations

from collections.abc import Mapping

from driftline.config import (
    DISCRETE_TESTS,
    PREDICTION_FEATURE,
    CategoricalFeature,
    Feature,
    ModelSpec,
    NumericFeature,
)
from driftline.detectors.reference import CategoricalReference, FeatureReference, ModelReference


def infer_spec(reference: ModelReference, defaults: ModelSpec) -> ModelSpec:
    """``defaults`` with the features (and prediction) filled in from the reference.

    >>> import numpy as np
    >>> ref = ModelReference.build("m", "v1", {"x": np.arange(10.0)}, categorical={"c": ["a", "b"]})
    >>> spec = infer_spec(ref, ModelSpec())
    >>> {name: f.kind for name, f in spec.features.items()}
    {'x': 'numeric', 'c': 'categorical'}
    """
    features: dict[str, Feature] = {}
    prediction: Feature | None = None
    for name, feature in reference.features.items():
        inferred = _default_feature(feature)
        if name == PREDICTION_FEATURE:
            prediction = inferred
        else:
            features[name] = inferred
    return defaults.model_copy(update={"features": features, "prediction": prediction})


def monitored_features(spec: ModelSpec, reference: ModelReference) -> dict[str, Feature]:
    """The features (and ``__prediction__``) a window of this model is compared on, in spec order.

    A spec feature whose kind differs from the reference's is left out (the reference cannot
    compare it); :func:`spec_problems` names it.

    >>> import numpy as np
    >>> ref = ModelReference.build("m", "v1", {"x": np.arange(10.0), "y": np.arange(10.0)})
    >>> list(monitored_features(ModelSpec(features={"y": NumericFeature()}), ref))
    ['y']
    """
    wanted: dict[str, Feature] = dict(spec.features)
    if spec.prediction is not None:
        wanted[PREDICTION_FEATURE] = spec.prediction
    return {
        name: feature
        for name, feature in wanted.items()
        if name in reference.features and reference.features[name].kind == feature.kind
    }


def spec_problems(spec: ModelSpec, reference: ModelReference) -> list[str]:
    """Why a spec feature is not monitored (missing from the reference, or of another kind).

    >>> import numpy as np
    >>> ref = ModelReference.build("m", "v1", {"x": np.arange(10.0)})
    >>> spec_problems(ModelSpec(features={"x": CategoricalFeature(kind="categorical"), "z": NumericFeature()}), ref)
    ["feature 'x' is categorical in the spec but numeric in reference v1", "feature 'z' is not in reference v1"]
    """
    wanted: dict[str, Feature] = dict(spec.features)
    if spec.prediction is not None:
        wanted[PREDICTION_FEATURE] = spec.prediction
    problems = []
    for name, feature in wanted.items():
        profiled = reference.features.get(name)
        if profiled is None:
            problems.append(f"feature {name!r} is not in reference {reference.version}")
        elif profiled.kind != feature.kind:
            problems.append(
                f"feature {name!r} is {feature.kind} in the spec but {profiled.kind} in reference {reference.version}"
            )
    return problems


def _default_feature(feature: object) -> Feature:
    """A feature's kind's default tests; a discrete numeric one's are chi-square's (``DISCRETE_TESTS``).

    >>> import numpy as np
    >>> flag = FeatureReference.build(np.array([0.0, 1.0, 0.0, 0.0]))
    >>> flag.discrete, _default_feature(flag).tests, _default_feature(FeatureReference.build(np.arange(50.0))).tests
    (True, ('psi', 'chi_square'), ('psi', 'ks', 'wasserstein'))
    """
    if isinstance(feature, CategoricalReference):
        return CategoricalFeature(kind="categorical")
    if isinstance(feature, FeatureReference) and feature.discrete:
        return NumericFeature(tests=DISCRETE_TESTS)
    return NumericFeature()


def resolve_spec(
    model_id: str, reference: ModelReference, specs: Mapping[str, ModelSpec], defaults: ModelSpec
) -> ModelSpec:
    """The model's own spec over what its reference infers (unless it says ``infer = false``), else the
    inferred one.

    >>> import numpy as np
    >>> ref = ModelReference.build("m", "v1", {"x": np.arange(100.0), "y": np.arange(100.0)})
    >>> list(resolve_spec("m", ref, {}, ModelSpec()).features)
    ['x', 'y']
    >>> own = ModelSpec(features={"y": NumericFeature(tests=("ks",))}, join_labels=True)
    >>> {k: f.tests for k, f in resolve_spec("m", ref, {"m": own}, ModelSpec()).features.items()}
    {'x': ('psi', 'ks', 'wasserstein'), 'y': ('ks',)}
    >>> list(resolve_spec("m", ref, {"m": own.model_copy(update={"infer": False})}, ModelSpec()).features)
    ['y']
    """
    own = specs.get(model_id)
    if own is None:
        return infer_spec(reference, defaults)
    if not own.infer:
        return own
    inferred = infer_spec(reference, own)
    return own.model_copy(update={"features": {**inferred.features, **own.features},
                                  "prediction": own.prediction or inferred.prediction})
