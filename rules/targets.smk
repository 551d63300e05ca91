# The per-experiment targets people type: prepare_<slug>, deploy_<slug>, collect_<slug> (check_<slug>, the
# specification's --check, is the same), full_<slug>.
# Each is a thin rule that only requests files; the slug reaches helpers through partial/params,
# never through the loop variable (a lambda would see the last slug).

_unknown = targets.unknown_targets(EXPERIMENT_SLUGS, sys.argv, [r.name for r in workflow.rules])
if _unknown:
    raise WorkflowError(targets.unknown_message(_unknown[0]))

# Only the experiments the command line names get their rules (see exprun.workflow.targets); all when it names none.
for _slug in targets.asked_slugs(EXPERIMENT_SLUGS, sys.argv):

    rule:
        name:
            f"prepare_{_slug}"
        input:
            PATTERNS["sanity"].format(slug=_slug),
        localrule: True

    rule:
        name:
            f"deploy_{_slug}"
        input:
            partial(get_deploy_target, _slug),
        localrule: True


    # No output: runs on every request; still running -> progress only, wiki untouched.
    rule:
        name:
            f"check_{_slug}"
        input:
            partial(get_collect_page, _slug),
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
            partial(get_collect_page, _slug),
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
            partial(get_full_target, _slug),
        localrule: True

