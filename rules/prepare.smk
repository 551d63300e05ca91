# Phase 1 and the gate: code -> dataset check -> review -> sanity run -> human approval.


rule generate_code:
    input:
        page=ancient(PATTERNS["page"]),
    output:
        generated=PATTERNS["generated"],
    params:
        exprun=EXPRUN,
        code_settings=get_code_settings,  # only these settings rerun it (exprun.prepare.codegen.shaping)
    log:
        "experiments/state/{slug}/logs/generate_code.log",
    localrule: True
    shell:
        "{params.exprun} rule generate {wildcards.slug} 2>&1 | tee {log}"


rule check_dataset:
    input:
        generated=PATTERNS["generated"],
    output:
        report=PATTERNS["dataset"],
    params:
        exprun=EXPRUN,
    log:
        "experiments/state/{slug}/logs/check_dataset.log",
    localrule: True
    shell:
        "{params.exprun} rule dataset {wildcards.slug} 2>&1 | tee {log}"


rule review_code:
    input:
        generated=PATTERNS["generated"],
        code=get_code_files,
    output:
        record=PATTERNS["review"],
    params:
        exprun=EXPRUN,
    log:
        "experiments/state/{slug}/logs/review_code.log",
    localrule: True
    shell:
        "{params.exprun} rule review {wildcards.slug} 2>&1 | tee {log}"


rule sanity_check:
    input:
        generated=PATTERNS["generated"],
        dataset=PATTERNS["dataset"],
        review=PATTERNS["review"],
        code=get_code_files,
    output:
        report=PATTERNS["sanity"],
    params:
        exprun=EXPRUN,
    log:
        "experiments/state/{slug}/logs/sanity_check.log",
    shell:
        "{params.exprun} rule sanity {wildcards.slug} 2>&1 | tee {log}"


# Reads approval.stamp, which only a person writes (`exprun approve <slug>` or touch). The deploy step makes the
# same check itself; this rule answers a request for approval.verified alone.
rule await_approval:
    input:
        sanity=PATTERNS["sanity"],
    output:
        verified=PATTERNS["approval_ok"],
    params:
        exprun=EXPRUN,
    log:
        "experiments/state/{slug}/logs/await_approval.log",
    localrule: True
    shell:
        "{params.exprun} rule gate {wildcards.slug} 2>&1 | tee {log}"
