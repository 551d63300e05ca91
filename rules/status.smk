# Across experiments: the status dashboard (read-only).


# Read-only: writes no wiki file.
rule status:
    params:
        exprun=EXPRUN,
        settings=get_settings,
    log:
        "experiments/state/status.log",
    localrule: True
    shell:
        "{params.exprun} status --settings-json {params.settings:q} 2>&1 | tee {log}"
