"""What the Snakefile's rules call (one function per step) and the per-experiment targets people type."""
