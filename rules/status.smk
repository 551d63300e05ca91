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


# Running experiments live until they end (read-only). Not piped through tee: on a terminal the view refreshes in
# place; elsewhere `exprun watch` prints plain lines. Its errors go to the log too.
rule watch:
    params:
        exprun=EXPRUN,
    log:
        "experiments/state/watch.log",
    localrule: True
    shell:
        "{params.exprun} watch 2> >(tee {log:q} >&2)"
