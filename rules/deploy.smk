# Phase 2: launch the approved run detached (screen locally).


rule deploy:
    input:
        verified=PATTERNS["approval_ok"],
    output:
        stamp=PATTERNS["deployed"],
    log:
        "experiments/state/{slug}/logs/deploy.log",
    localrule: True
    run:
        run_step("deploy", wildcards.slug, log[0])


# Full mode: wait for the detached run to end, then collect (never kills it).
rule wait_and_collect:
    input:
        stamp=PATTERNS["deployed"],
    output:
        collected=PATTERNS["collected"],
    log:
        "experiments/state/{slug}/logs/wait_and_collect.log",
    localrule: True
    run:
        run_step("wait", wildcards.slug, log[0])
