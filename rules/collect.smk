# Phases 3-4: collecting. The per-experiment collect_<slug> targets live in targets.smk.


# Full mode: wait for the detached run to end, then collect (never kills it).
rule wait_and_collect:
    input:
        stamp=PATTERNS["deployed"],
    output:
        collected=PATTERNS["collected"],
    params:
        exprun=EXPRUN,
    log:
        "experiments/state/{slug}/logs/wait_and_collect.log",
    localrule: True
    shell:
        "{params.exprun} rule wait {wildcards.slug} 2>&1 | tee {log}"


# full_via: jobs — once every seed job delivered, collect like a detached run.
rule collect_seed_jobs:
    input:
        stamp=PATTERNS["jobs_started"],
        results=get_seed_results,
    output:
        collected=PATTERNS["collected_jobs"],
    params:
        exprun=EXPRUN,
    log:
        "experiments/state/{slug}/logs/collect_seed_jobs.log",
    localrule: True
    shell:
        "{params.exprun} rule collect {wildcards.slug} 2>&1 | tee {log} && touch {output.collected:q}"


# Every experiment whose run has ended, continuing past failures.
rule collect_ready:
    params:
        exprun=EXPRUN,
    log:
        "experiments/state/collect_ready.log",
    localrule: True
    shell:
        "{params.exprun} collect-ready 2>&1 | tee {log}"
