"""Pure drift science: sketches, window statistics, online detectors, policies.

No I/O. May import numpy, scipy, river and ``driftline.config``.
"""
