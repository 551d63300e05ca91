"""Everything before the gate: generated code (codegen/), the dataset check, the review, the sanity run,
the run contract, GPU planning.
"""
