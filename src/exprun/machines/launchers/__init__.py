"""Backends that start a run detached and answer for it later: screen here, screen on a server over
SSH, a SLURM array, Snakemake seed jobs (see backends.py for the interface and the registry).

Each turns a launch request into a RunRecord (versioned JSON in state/{slug}/run.json) and answers
state/tail/stop from that record alone, so any later process can pick it up.
"""
