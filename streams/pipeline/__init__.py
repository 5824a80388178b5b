"""Per-batch logic, written against the state ports only (no Redis, no key names): the prediction and
label processors, planning and binning, the online detectors, the windows' close, retraining, warm-up and
how each model is set up."""
