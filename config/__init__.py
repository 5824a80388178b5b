"""Settings and monitor specs: the only layer that reads the environment.

Imports only pydantic and the standard library.
"""
