# The per-experiment targets people type: prepare_<slug>, deploy_<slug>, collect_<slug> (check_<slug>, the
# specification's --check, is the same), full_<slug>.
# Each is a thin rule that only requests files; the slug reaches helpers through partial/params,
# never through the loop variable (a lambda would see the last slug).

# Every target on the command line is checked before anything is built: a mistyped name, a page whose slug is not
# its file name, a status that forbids the target is one message, the last on the screen (see stop()).
_refused = targets.refusal(
    EXPERIMENT_SLUGS, sys.argv, [r.name for r in workflow.rules], config["full_via"], config["codegen"]["seeds"]
)
if _refused:
    stop(_refused)

# Only the experiments the command line names get their rules (see exprun.workflow.targets.rule_slugs): none for
# `status` or a job's own process, all when the command line names no target (the overview, --list-rules, --lint).
_job_process = workflow.remote_exec or workflow.subprocess_exec
_named = [] if _job_process else command_line.named_targets(sys.argv[1:])
for _slug in targets.rule_slugs(EXPERIMENT_SLUGS, _named, _job_process):

    rule:
        name:
            f"prepare_{_slug}"
        input:
            PATTERNS["sanity"].format(slug=_slug),
        params:
            exprun=EXPRUN,
            slug=_slug,
        log:
            f"experiments/state/{_slug}/logs/prepared.log",
        localrule: True
        shell:
            "{params.exprun} rule prepared {params.slug} 2>&1 | tee {log}"  # the checklist, how to approve, then deploy

    rule:
        name:
            f"deploy_{_slug}"
        input:
            partial(get_target_input, "deploy", _slug),
        localrule: True


    # No output: runs on every request; still running -> progress only, wiki untouched.
    rule:
        name:
            f"check_{_slug}"
        input:
            partial(get_target_input, "check", _slug),
        params:
            slug=_slug,
            exprun=EXPRUN,
        log:
            f"experiments/state/{_slug}/logs/check.log",
        localrule: True
        shell:
            "{params.exprun} rule collect {params.slug} 2>&1 | tee {log}"

    rule:
        name:
            f"collect_{_slug}"
        input:
            partial(get_target_input, "collect", _slug),
        params:
            slug=_slug,
            exprun=EXPRUN,
        log:
            f"experiments/state/{_slug}/logs/collect.log",
        localrule: True
        shell:
            "{params.exprun} rule collect {params.slug} 2>&1 | tee {log}"

    rule:
        name:
            f"full_{_slug}"
        input:
            partial(get_target_input, "full", _slug),
        localrule: True

