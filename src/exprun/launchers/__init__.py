"""Backends that start a run detached and answer for it later (screen now; ssh and slurm later).

Each backend turns a RunSpec into a RunRecord (plain JSON in state/{slug}/run.json),
and answers state/tail/stop from that record alone, so any later process can pick it up.
"""
