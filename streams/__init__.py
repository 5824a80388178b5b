"""Everything that touches Kafka or Redis: the faust app, processors, sketch store, CLI, local stack."""
