"""The human approval gate: nothing deploys unless a person approved these exact bytes."""
