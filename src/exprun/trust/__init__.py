"""What makes a run the approved one: the folder hash and the guard, the read-only snapshot, exprun-written
provenance, and the archived evidence of what was counted.
"""
