# Across experiments: the status overview and the HTML dashboard.


# Writes no page: only the dashboard (wiki/outputs/exprun/) and the scan it keeps (experiments/state/status.json).
rule status:
    params:
        exprun=EXPRUN,
        settings=get_settings,
    log:
        "experiments/state/status.log",
    localrule: True
    shell:
        "{params.exprun} status --settings-json {params.settings:q} 2>&1 | tee {log}"


# The HTML dashboard of every experiment: wiki/outputs/exprun/index.html and a page per experiment.
rule dashboard:
    params:
        exprun=EXPRUN,
        settings=get_settings,
    log:
        "experiments/state/dashboard.log",
    localrule: True
    shell:
        "{params.exprun} dashboard --settings-json {params.settings:q} 2>&1 | tee {log}"
