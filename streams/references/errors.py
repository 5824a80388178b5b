"""The error every reader of training data raises: one clear line for the command line."""

from __future__ import annotations


class ReferenceDataError(ValueError):
    """The training data cannot be read or holds no usable feature."""
