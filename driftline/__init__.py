"""driftline: streaming drift monitor."""
__version__ = "0.1.0"
