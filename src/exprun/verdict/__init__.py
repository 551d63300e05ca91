"""From seed files to a verdict: statistics, criteria, arms and sweeps, reports, plots, the estimate.

Pure: reads files and numbers, never starts anything.
"""
