# Across experiments: the status dashboard (read-only).


# Read-only: writes no wiki file.
rule status:
    params:
        exprun=EXPRUN,
    log:
        "experiments/state/status.log",
    localrule: True
    shell:
        "{params.exprun} status 2>&1 | tee {log}"
