# Phase 2: launch the approved run detached (screen locally).


rule deploy:
    input:
        verified=PATTERNS["approval_ok"],
    output:
        stamp=PATTERNS["deployed"],
    params:
        exprun=EXPRUN,
    log:
        "experiments/state/{slug}/logs/deploy.log",
    localrule: True
    shell:
        "{params.exprun} rule deploy {wildcards.slug} 2>&1 | tee {log}"
