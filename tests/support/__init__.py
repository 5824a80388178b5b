"""Helpers shared by the integration and fault tests, each written once.

- `kafka`: `produce` (simulator events or raw values, to any topic, keyed as producers key predictions or as the
  caller says) and `read_topic` (every record of a topic, once it holds as many as expected);
- `waiting`: `poll` and `wait_until` (a condition, in time), `wait_closed` and `wait_counted` (a model's windows
  closed, its events counted) over `counted` (what Redis holds of the simulator's windows);
- `triggers`: ``driftline triggers exec`` started and stopped, and a command that records the triggers it ran for.
- `bench`: `load_bench` (a bench script loaded as a module, for the tests of its pieces).

Counting or reading a topic whole, and the fault suite's seeded `Workload` (sending it, waiting for it, judging
it), are the product's testing oracle's: ``driftline.streams.testing.oracle`` (`topic_records`, `read_all`,
`produce`, `wait_counted`); the helpers here build on it rather than copy it.

Tests import these with a relative import, as the rest of the suite does under ``--import-mode=importlib``::

    from ..support.kafka import produce, read_topic
    from ..support.waiting import wait_closed, wait_counted, wait_until
"""
