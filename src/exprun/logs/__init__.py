"""Reading what a run prints: the tail of a log, anomalies in it (NaN, OOM, a stall), the run log exprun writes."""
