# full_via: jobs — each seed (each arm × seed) as a Snakemake job, placed by the executor of the profile
# (profiles/slurm-jobs: snakemake-executor-plugin-slurm), then collected like a detached run.
# Checkpoints stay out of the outputs: Snakemake deletes the outputs of failed jobs.


# Like deploy: checks the approval (the gate's checklist when it stops there), then marks the run started.
rule start_seed_jobs:
    input:
        sanity=PATTERNS["sanity"],
    output:
        stamp=PATTERNS["jobs_started"],
    params:
        exprun=EXPRUN,
    log:
        "experiments/state/{slug}/logs/start_seed_jobs.log",
    localrule: True
    shell:
        "{params.exprun} rule start-jobs {wildcards.slug} 2>&1 | tee {log}"


# Each job checks the approval itself when it starts (a leftover or hand-made jobs.stamp proves nothing).
rule run_arm_seed:
    input:
        stamp=PATTERNS["jobs_started"],
    output:
        result="results/{slug}/{arm}/seed_{seed}.json",
    params:
        exprun=EXPRUN,
    log:
        "logs/exp-{slug}_{arm}_seed{seed}.log",
    resources:
        gpu=get_seed_gpus,
    shell:
        "{params.exprun} rule run-seed {wildcards.slug} --seed {wildcards.seed} --arm {wildcards.arm:q} > {log:q} 2>&1"


rule run_seed:
    input:
        stamp=PATTERNS["jobs_started"],
    output:
        result="results/{slug}/seed_{seed}.json",
    params:
        exprun=EXPRUN,
    log:
        "logs/exp-{slug}_seed{seed}.log",
    resources:
        gpu=get_seed_gpus,  # runtime, mem, slurm_partition: the profile's default-resources
    shell:
        "{params.exprun} rule run-seed {wildcards.slug} --seed {wildcards.seed} > {log} 2>&1"
