# exprun: a wiki-planned ML experiment, from generated code to results on the page.
# Targets: prepare_<slug>, deploy_<slug>, collect_<slug>, full_<slug>, status, dashboard, collect_ready;
# `snakemake` alone lists every experiment, its status and the next command.
# Run from a wiki root (the folder holding wiki/), or pass --directory <wiki-root>.
from snakemake.utils import min_version

from exprun.core.config import REPO_CONFIG

min_version("9.0")


configfile: str(REPO_CONFIG)


include: "rules/common.smk"
include: "rules/prepare.smk"
include: "rules/deploy.smk"
include: "rules/jobs.smk"
include: "rules/collect.smk"
include: "rules/status.smk"
include: "rules/targets.smk"


# `snakemake` with no target: every experiment, its status and the command that moves it on.
# (The default target must be a rule of this file: Snakemake takes none from an include.)
rule overview:
    default_target: True
    params:
        exprun=EXPRUN,
    log:
        "experiments/state/overview.log",
    localrule: True
    shell:
        "{params.exprun} targets 2>&1 | tee {log}"


onerror:
    print_failures()
