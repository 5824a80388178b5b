"""The ``driftline`` commands: :mod:`.main` builds the parser from one module per command group."""
