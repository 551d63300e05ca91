# exprun: a wiki-planned ML experiment, from generated code to results on the page.
# Targets: prepare_<slug>, deploy_<slug>, collect_<slug>, full_<slug>, status, collect_ready.
# Run from a wiki root (the folder holding wiki/), or pass --directory <wiki-root>.
from snakemake.utils import min_version

from exprun.config import REPO_CONFIG

min_version("9.0")


configfile: str(REPO_CONFIG)


include: "rules/common.smk"
include: "rules/prepare.smk"
include: "rules/deploy.smk"
include: "rules/jobs.smk"
include: "rules/status.smk"
include: "rules/targets.smk"
