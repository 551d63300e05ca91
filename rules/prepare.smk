# Phase 1 and the gate: code -> dataset check -> review -> sanity run -> human approval.


rule generate_code:
    input:
        page=ancient(PATTERNS["page"]),
    output:
        manifest=PATTERNS["manifest"],
    log:
        "experiments/state/{slug}/logs/generate_code.log",
    localrule: True
    run:
        run_step("generate", wildcards.slug, log[0])


rule check_dataset:
    input:
        manifest=PATTERNS["manifest"],
    output:
        report=PATTERNS["dataset"],
    log:
        "experiments/state/{slug}/logs/check_dataset.log",
    localrule: True
    run:
        run_step("dataset", wildcards.slug, log[0])


rule review_code:
    input:
        manifest=PATTERNS["manifest"],
        code=get_code_files,
    output:
        record=PATTERNS["review"],
    log:
        "experiments/state/{slug}/logs/review_code.log",
    localrule: True
    run:
        run_step("review", wildcards.slug, log[0])


rule sanity_check:
    input:
        manifest=PATTERNS["manifest"],
        dataset=PATTERNS["dataset"],
        review=PATTERNS["review"],
        code=get_code_files,
    output:
        report=PATTERNS["sanity"],
    log:
        "experiments/state/{slug}/logs/sanity_check.log",
    run:
        run_step("sanity", wildcards.slug, log[0])


# Reads approval.stamp, which only a person writes (`exprun approve <slug>` or touch).
rule await_approval:
    input:
        sanity=PATTERNS["sanity"],
    output:
        verified=PATTERNS["approval_ok"],
    log:
        "experiments/state/{slug}/logs/await_approval.log",
    localrule: True
    run:
        run_step("gate", wildcards.slug, log[0])
