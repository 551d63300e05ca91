# Across experiments: the status overview and the HTML dashboard.


# Writes no page: only the dashboard (wiki/outputs/exprun/) and the scan it keeps (experiments/state/status.json).
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


# The HTML dashboard of every experiment: wiki/outputs/exprun/index.html and a page per experiment.
rule dashboard:
    params:
        exprun=EXPRUN,
    log:
        "experiments/state/dashboard.log",
    localrule: True
    shell:
        "{params.exprun} dashboard 2>&1 | tee {log}"
