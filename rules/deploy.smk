# Phase 2: launch the approved run detached (screen locally).


rule deploy:
    input:
        verified=PATTERNS["approval_ok"],
    output:
        stamp=PATTERNS["deployed"],
    params:
        settings=SETTINGS,
    log:
        PATTERNS["rule_logs"] + "/deploy.log",
    localrule: True
    shell:
        "{EXPRUN} deploy {wildcards.slug} --settings {params.settings:q} 2>&1 | tee {log}"


# Full mode: wait for the detached run to end, then collect (never kills it).
rule wait_and_collect:
    input:
        stamp=PATTERNS["deployed"],
    output:
        collected=PATTERNS["collected"],
    params:
        settings=SETTINGS,
    log:
        PATTERNS["rule_logs"] + "/wait_and_collect.log",
    localrule: True
    shell:
        "{EXPRUN} collect {wildcards.slug} --wait --settings {params.settings:q} 2>&1 | tee {log}"
