"""Seeded workloads and oracles shared by tests/, bench/ and the demo: the fraud simulator, the fault
oracle (exact counts, alert ids) and a worker run as a subprocess. Never imported by the worker."""
