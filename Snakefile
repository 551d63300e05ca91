# exprun: a wiki-planned ML experiment, from generated code to results on the page.
# Targets: prepare_<slug>, deploy_<slug>, collect_<slug>, full_<slug>, status, collect_ready.
# Run from a wiki root (the folder holding wiki/), or pass --directory <wiki-root>.
from snakemake.utils import min_version

min_version("9.0")


configfile: workflow.source_path("config/config.yaml")


include: "rules/common.smk"
include: "rules/prepare.smk"
include: "rules/deploy.smk"
include: "rules/targets.smk"
