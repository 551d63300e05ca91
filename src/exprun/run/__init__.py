"""After the gate: deploy a snapshot, remember it (run records, attempts), watch it, fix it once, retry."""
