# Phase 2: launch the approved run detached (screen locally).


rule deploy:
    input:
        verified=PATTERNS["approval_ok"],
    output:
        stamp=PATTERNS["deployed"],
    params:
        exprun=EXPRUN,
        settings=get_settings_file,
    log:
        "experiments/state/{slug}/logs/deploy.log",
    localrule: True
    shell:
        "{params.exprun} rule deploy {wildcards.slug} --settings {params.settings:q} 2>&1 | tee {log}"


# Full mode: wait for the detached run to end, then collect (never kills it).
rule wait_and_collect:
    input:
        stamp=PATTERNS["deployed"],
    output:
        collected=PATTERNS["collected"],
    params:
        exprun=EXPRUN,
        settings=get_settings_file,
    log:
        "experiments/state/{slug}/logs/wait_and_collect.log",
    localrule: True
    shell:
        "{params.exprun} rule wait {wildcards.slug} --settings {params.settings:q} 2>&1 | tee {log}"
