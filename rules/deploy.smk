# Phase 2: launch the approved run detached (screen locally).


# One job: the step checks the approval a person gave (the gate's checklist when it stops there), then launches,
# and the launch checks it again itself. A separate gate job before it re-checked the same stamp for ~0.5 s more.
rule deploy:
    input:
        sanity=PATTERNS["sanity"],
    output:
        stamp=PATTERNS["deployed"],
    params:
        exprun=EXPRUN,
    log:
        "experiments/state/{slug}/logs/deploy.log",
    localrule: True
    shell:
        "{params.exprun} rule deploy {wildcards.slug} 2>&1 | tee {log}"
