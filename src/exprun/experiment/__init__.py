"""What an experiment is, read once from its config.yaml: arms, seeds, metrics, criteria (the typed config)."""
