"""The composition root and runtime: the faust app (:mod:`.factory`), the worker entry (:mod:`.worker`), the
start-up checks (:mod:`.preflight`), topics, metrics, and the Kafka client options every Kafka user shares
(:mod:`.kafka`). Nothing is re-exported here: importing a module of this package must not start the app's
imports (faust), and nothing outside streams/ uses it."""
