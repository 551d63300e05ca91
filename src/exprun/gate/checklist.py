"""The approval checklist (GATE.md): what a person must look at before approving, and the exact commands —
the code and who edited it, the dataset, the settings, the arms and their cost, the environment and GPUs,
the sanity run, the review, and every CHECK a person must see first."""

from __future__ import annotations

import json
from pathlib import Path

from exprun.core import yamlread
from exprun.core.durations import human_duration
from exprun.core.errors import ConfigError, ExprunError
from exprun.core.files import read_json
from exprun.core.invocation import same_command, snakemake_command
from exprun.core.numbers import finite
from exprun.core.paths import Paths
from exprun.core.settings import Settings
from exprun.experiment.experiment_config import ExperimentConfig, readable
from exprun.prepare import review as code_review
from exprun.prepare.codegen import criteria, leftovers, manifest, page_decisions
from exprun.prepare.gpu_plan import GpuPlan, counts_free_gpus, gpu_plan, memory_need, tasks_at_once
from exprun.trust import integrity, snapshot
from exprun.verdict import run_scope

HYPERPARAMETERS = (("lr", "learning_rate"), ("batch_size", "batch_size"), ("epochs", "epochs"))


def checklist(slug: str, settings: Settings, root: Path, headline: str, then: str = "") -> str:
    """What a person must look at before approving, and the exact commands: approve, then `then` (by default the
    command that was refused, to run again)."""
    paths = Paths(slug, root)
    code = paths.code_dir
    config, unreadable = readable(yamlread.load_mapping(code / "config.yaml"))
    sanity = read_json(paths.sanity)
    dataset = read_json(paths.dataset)
    review = read_json(paths.review)
    changed_by_person = manifest.human_changes(code)
    files = ", ".join(rel for rel, _ in integrity.code_files(code))
    linked = "".join(
        f"\n                 link {rel} → {target} (hashed as its target)" for rel, target in integrity.links(code)
    )
    python = settings.python or "the python running exprun"
    plan = _plan(slug, root, settings)
    at_once = _at_once(config, settings, plan)
    gpu_line, gpu_checks = _gpu_plan(plan, slug, root, settings)
    env_lines, env_checks = _env_needs(code, config, settings, root)
    context = read_json(paths.context)  # what generation read from the page: criteria, arms, notes
    readings = list(context.get("criteria_read") or [])
    checks = [f"config.yaml: {unreadable}"] if unreadable else []
    checks += [*gpu_checks, *env_checks, *run_scope.check_lines(slug, root, config)]
    checks += [*_criteria_checks(config, readings), *page_decisions.check_lines(slug, root)]
    lines = [
        headline,
        "",
        *[f"!! CHECK  {text}" for text in checks],
        *([""] if checks else []),
        "Review before approving:",
        f"  1. Code        {code}/  ({files})"
        + (f"\n                 edited by a person: {', '.join(changed_by_person)}" if changed_by_person else "")
        + linked,
        *_leftover_lines(paths),
        *snapshot.gate_lines(code),
        "                 runs as approved: deploy copies exactly these bytes into snapshots/<hash>/ (read-only) "
        "and runs that",
        f"  2. Dataset     {dataset.get('summary', 'not checked')}",
        f"  3. Settings    {code}/config.yaml: {_settings_text(config)}",
        *_arms_lines(config, unreadable, at_once),
        *_page_arm_lines(context),
        f"  4. Environment env_activate={settings.env_activate or '(none)'}; python={python}; "
        f"{_reviewer_text(settings, root)}",
        *env_lines,
        f"  5. GPU plan    {gpu_line}",
        f"  6. Sanity run  {_sanity_line(sanity)}",
        _estimate_line(config, unreadable, at_once, sanity, dataset, slug, root),
        f"  7. Code review {_review_line(review, code)}",
        f"  8. Baseline    {_baseline_line(config, slug, root)}",
        f"  9. Criteria    {_criteria_line(config)}",
        *[f"                 {line}" for line in criteria.describe(readings)],
        *_rounds_lines(slug, root),
        f"     Notes       {code}/CONTEXT.md (what was read and what the generator could not map)",
        *_note_lines(paths, context),
        "",
        "Approve (records who, when and the code hash):",
        f"  exprun approve {slug}        # or: touch {paths.approval}",
        *(
            then.splitlines()
            or ["then run the same command again:", f"  {same_command(snakemake_command(f'deploy_{slug}'))}"]
        ),
    ]
    return "\n".join(lines)


def _plan(slug: str, root: Path, settings: Settings) -> GpuPlan | str:
    """The GPU plan every launch uses, read once for the GPU line and the tasks at once; what is wrong with
    config.yaml's `hardware` when it cannot be read (listed, like every problem at the gate, never raised)."""
    from exprun.wiki.lifecycle import find_experiment

    try:
        return gpu_plan(find_experiment(slug, root), Paths(slug, root).code_dir, settings.gpu.count)
    except ConfigError as exc:
        return str(exc)


def _at_once(config: ExperimentConfig, settings: Settings, plan: GpuPlan | str) -> tuple[int, str]:
    """Tasks deploy will run at once, by the rule deploy itself uses (gpu_plan.tasks_at_once), and what the gate
    had to assume. With `parallel: 0` on a page that needs GPUs, deploy runs one task per free GPU set of the
    deploy machine, counted when it launches; the gate does not guess that count (GPUs free now need not be free
    then, and the machine may be the server), so it estimates one at a time — the longest the run can take —
    and says so. A SLURM array or seed jobs run as the scheduler places them; deploy estimates those one at a time
    too."""
    if settings.env == "slurm" or settings.full_via == "jobs":
        return 1, "counted 1 task at a time; the scheduler decides how many run at once"
    if isinstance(plan, str):
        return 1, "assuming 1 task at a time (config.yaml's hardware cannot be read)"
    one_set_free = lambda: plan.count  # noqa: E731 - the assumption said below
    found = tasks_at_once(settings.parallel, plan, len(config.arms) * len(config.seeds), one_set_free)
    if counts_free_gpus(settings.parallel, plan):
        return found, "assuming 1 task at a time; deploy runs one per free GPU (`parallel: 0`)"
    return found, ""


def _gpu_plan(plan: GpuPlan | str, slug: str, root: Path, settings: Settings) -> tuple[str, list[str]]:
    """The GPU plan line (with the free memory each GPU needs after the sanity peak) and the CHECK lines a person
    cannot miss: config.yaml's `hardware` saying other than the page's plan, and a plan that asks for no GPU
    whose code uses CUDA."""
    from exprun.gate.approval import code_hash  # approval imports this module

    if isinstance(plan, str):
        return "not planned: config.yaml's hardware cannot be read", [f"GPU: {plan}"]
    need = (
        memory_need(slug, root, code_hash(Paths(slug, root)), settings.gpu.memory_margin_mib) if plan.needed else None
    )
    checks = [f"GPU: {plan.override_text()}"] if plan.overrides_page else []
    checks += [f"GPU: {plan.contradiction_text()}"] if plan.contradiction else []
    return plan.describe(settings.gpu.free_memory_mib, need), checks


def _env_needs(code: Path, config: ExperimentConfig, settings: Settings, root: Path) -> tuple[list[str], list[str]]:
    """Each environment variable the code needs, set or NOT SET where the run will start (names only), a note for
    each env_optional waiver that waives nothing, and a CHECK line for the required ones that are not set: deploy
    refuses until they are."""
    from exprun.machines import env_needs

    found = env_needs.check_for_deploy(code, config, settings, root)
    notes = [*found.lines(), *env_needs.idle_waivers(config, found.needs)]
    lines = [f"                 {line}" for line in notes]
    missing = found.missing()
    # screen here and on the server and a SLURM array refuse; seed jobs (full_via: jobs) would start and fail
    refuses = settings.full_via != "jobs"
    then = "deploy refuses until" if refuses else "the run fails unless"
    checks = (
        [
            f"Environment: {', '.join(n.name for n in missing)} NOT SET on {found.target} "
            f"({', '.join(n.where for n in missing)}); {then} "
            f"{'it is' if len(missing) == 1 else 'they are'} set there"
        ]
        if missing
        else []
    )
    unchecked = [n.name for n in found.needs if n.required] if found.set_names is None else []
    if unchecked:
        checks.append(
            f"Environment: {', '.join(unchecked)} not checked on {found.target} ({found.error}); "
            f"{'deploy refuses' if refuses else 'the run fails'} if any is not set there"
        )
    return lines, checks


def _sanity_line(sanity: dict) -> str:
    if not sanity:
        return "not run"
    wall = sanity.get("wall_time_s")
    parts = [f"{sanity.get('status')} in {human_duration(float(wall)) if finite(wall) else '? s'}"]
    if "first_loss" in sanity:
        parts.append(f"loss {sanity['first_loss']:.4f} → {sanity['last_loss']:.4f}")
    if sanity.get("seconds_per_step"):
        parts.append(f"{sanity['seconds_per_step']:.4g} s/step")
    if sanity.get("metrics"):
        parts.append(
            "metrics " + ", ".join(f"{k}={v:.4f}" for k, v in sanity["metrics"].items() if isinstance(v, (int, float)))
        )
    return "; ".join(parts)


def _estimate_line(
    config: ExperimentConfig,
    unreadable: str,
    at_once: tuple[int, str],
    sanity: dict,
    dataset: dict,
    slug: str,
    root: Path,
) -> str:
    """How long the run will take, as deploy will write it (verdict/estimate.py's rule, `at_once` tasks at a
    time as deploy resolves `parallel`), before it is approved; with what the gate assumed where it cannot know."""
    from exprun.verdict.estimate import estimate_run
    from exprun.wiki.lifecycle import find_experiment

    if unreadable:
        return "     Estimate    unknown (config.yaml unreadable)"
    setup = find_experiment(slug, root).get("setup") or {}
    parallel, assumed = at_once
    found = estimate_run(sanity, dataset, config, setup, parallel)
    return f"     Estimate    {found.text} ({found.basis}{'; ' + assumed if assumed else ''})"


def _page_arm_lines(context: dict) -> list[str]:
    """The page's arms that were not turned into config.yaml arms — said whoever wrote the code (a generator's
    program hides the recipe's notes, not the page's design)."""
    notes = [str(n) for n in context.get("arm_notes") or []]
    return [f"     {'Page arms' if i == 0 else '         '}   - {n}" for i, n in enumerate(notes)]


def _arms_lines(config: ExperimentConfig, unreadable: str, at_once: tuple[int, str]) -> list[str]:
    """The arm matrix a person approves: each arm, its role and overrides, the task count and how many at once."""
    if unreadable:  # said as a CHECK line above the list; the arms of the file are not shown
        return ["     Arms        not read: config.yaml has an error (the CHECK line above)"]
    if config.single_arm:
        return []
    found, seeds = config.arms, len(config.seeds)
    parallel, assumed = at_once
    lines = [
        f"     Arms        {len(found)} arms × {seeds} seeds = {len(found) * seeds} tasks, "
        + (assumed if assumed else f"{parallel} at a time (`parallel`)")
    ]
    lines += [
        f"                 - {a.name} ({a.role}{': ' + a.factor if a.factor and a.factor != a.name else ''}) "
        f"{json.dumps(a.overrides) if a.overrides else '(config as written)'}"
        for a in found
    ]
    return lines


def _baseline_line(config: ExperimentConfig, slug: str, root: Path) -> str:
    """The baseline as the page names it, and whether this code runs it — read from what the code did (the
    sanity run's seed file holds `baseline_metrics` when it ran one) and from config.yaml, never from what a
    recipe once meant to write."""
    from exprun.prepare.codegen import criteria
    from exprun.wiki.lifecycle import find_experiment

    text, where = criteria.page_baseline(find_experiment(slug, root))
    named = f"“{text}” (page: {where})" if text and not criteria.names_none(text) else ""
    ran = _sanity_baseline(Paths(slug, root))
    if config.baseline_results:
        source = config.baseline_source or "source not given — add `source:`"
        how = f"numbers from config.yaml baseline_results {dict(config.baseline_results)} ({source})"
    elif ran:
        how = f"run by the code: the sanity run wrote baseline_metrics {ran}"
    elif config.baseline.get("name") == "control_arm":
        how = "the control arm, run by the code on the same seeds (every arm is compared with it)"
    elif not named:
        said = f" (the page: “{text}”)" if text else ""
        return f"none: the page names no baseline{said}, so the verdict compares nothing"
    elif not read_json(Paths(slug, root).sanity):
        planned = str(config.baseline.get("name") or "")
        said = f"config.yaml names it {planned}; " if planned and planned not in ("none", "not_implemented") else ""
        how = f"{said}whether the code runs it shows after the sanity run (its seed file then holds baseline_metrics)"
    else:
        how = (
            "NOT RUN by this code: the sanity run wrote no baseline_metrics — implement it and write "
            "baseline_metrics, or add `baseline_results: {source: <paper or page>, metrics: {<metric>: <value>}}` "
            "to config.yaml"
        )
    return f"{named or 'the page names none'}: {how}"


def _sanity_baseline(paths: Paths) -> dict:
    """The baseline_metrics of the sanity run's seed files ({} when none wrote any)."""
    if not paths.sanity_results.is_dir():
        return {}
    for path in sorted(paths.sanity_results.rglob("seed_*.json")):
        try:
            found = json.loads(path.read_text(encoding="utf-8")).get("baseline_metrics")
        except (OSError, ValueError, AttributeError):
            continue  # the sanity checks judged the file; here it only tells whether a baseline ran
        if isinstance(found, dict) and found:
            return {k: round(v, 4) if isinstance(v, float) else v for k, v in found.items()}
    return {}


def _settings_text(config: ExperimentConfig) -> str:
    """The settings config.yaml holds: hyperparameters only when it has them (a program that does not train
    has none, and `lr=None` would read as a setting)."""
    hp = config.hyperparameters
    known = [(label, hp[key]) for label, key in HYPERPARAMETERS if hp.get(key) is not None]
    shown = [f"{label}={value}" for label, value in known] + [f"seeds={list(config.seeds)}"]
    return ", ".join(shown + [f"metrics={list(config.metrics)}"]) + ("" if known else " (no hyperparameters)")


def _criteria_line(config: ExperimentConfig) -> str:
    criteria = [dict(c) for c in config.success_criteria]
    if not criteria:  # the verdict's default, said in words rather than as "[]"
        better = "above" if config.higher(config.primary_metric) else "below"
        return f"none in config.yaml: the default — {config.primary_metric} {better} the baseline's (Δ over the seeds)"
    text = json.dumps(criteria, ensure_ascii=False)
    if any(isinstance(c, dict) and "prose" in str(c.get("source", "")) for c in criteria):
        return f"{text} — read from the page's prose: confirm each sentence below"
    return text


def _criteria_checks(config: ExperimentConfig, readings: list[dict]) -> list[str]:
    """CHECK lines for the criteria: each sentence of the page that states one exprun could not read (so it is
    never lost in a note), each criterion on a metric the code is not set to report, and a single seed."""
    lines = [
        f"Criteria: {line} — write it into success_criteria in config.yaml, or confirm it does not decide the outcome"
        for line in criteria.describe([r for r in readings if r.get("unread")])
    ]
    reported = list(config.metrics)
    for index, criterion in enumerate(config.success_criteria):
        metric = str(criterion.get("metric") or "")
        if metric and metric not in reported:
            lines.append(
                f"Criteria: criterion {index + 1} judges {metric}, which the code does not report (config.yaml "
                f"metrics: {', '.join(reported) or 'none'}): the code must write {metric} into each seed file's "
                "metrics, or the criterion is not judged"
            )
    if len(config.seeds) < 2:  # "a single deterministic run (seed=0)": asked by the page
        lines.append(
            f"Criteria: seeds {list(config.seeds)} — one run by design: each criterion is judged on that run's value, "
            "without an interval; right for a deterministic computation, while a result that varies with the seed "
            "needs seeds in config.yaml"
        )
    return lines


NOT_CODE = manifest.NOT_HASHED  # exprun's notes beside the code (CONTEXT.md, REVIEW.md, the manifest)


def _note_lines(paths: Paths, context: dict, limit: int = 12) -> list[str]:
    """What the page asks that the built-in recipe could not map (from context.json), said at the gate — only
    while the code is the recipe's as it wrote it: once a generator or a person rewrote a file, the recipe's
    notes ('write load_data() in data.py') describe a program that is no longer there."""
    notes = [str(n) for n in context.get("notes") or []]
    if not notes:
        return []
    code_by = {rel: w for rel, w in manifest.written_by(paths.code_dir).items() if Path(rel).name not in NOT_CODE}
    if code_by and manifest.BUILT_IN not in code_by.values():  # the recipe never wrote this folder's code
        writers = ", ".join(sorted(set(code_by.values())))
        return [f"                 (the built-in recipe's notes are not shown: {writers} wrote this code)"]
    others = manifest.recipe_changes(paths.code_dir)
    if others:
        shown = ", ".join(others[:6]) + (f", … {len(others) - 6} more" if len(others) > 6 else "")
        return [
            f"                 (the built-in recipe's notes are not shown: {shown} "
            f"{'is' if len(others) == 1 else 'are'} not as the recipe wrote {'it' if len(others) == 1 else 'them'})"
        ]
    lines = [
        f"                 - {n.strip()}" if not n.startswith("  ") else f"                   {n.strip()}"
        for n in notes[:limit]
    ]
    return lines + ([f"                 … {len(notes) - limit} more in CONTEXT.md"] if len(notes) > limit else [])


def _leftover_lines(paths: Paths) -> list[str]:
    """The recipe's files removed because the code no longer uses them (so the hash holds only this program)."""
    gone = leftovers.removed(paths)
    return (
        [
            f"                 removed before hashing — the built-in recipe's files nothing here uses: "
            f"{', '.join(gone)} (a forced regeneration writes them back)"
        ]
        if gone
        else []
    )


def _rounds_lines(slug: str, root: Path) -> list[str]:
    from exprun.prepare.codegen import rounds

    done = rounds.history(slug, root)
    return [f"  {'10. Code rounds' if i == 0 else '              '} {rounds.describe(e)}" for i, e in enumerate(done)]


def _reviewer_text(settings: Settings, root: Path) -> str:
    """Which reviewer the review asks, and where its settings come from (review_llm, or the wiki's LLM_*)."""
    if not settings.review:
        return "code review off (review: true turns it on)"
    try:
        who = code_review.reviewer(settings.review_llm, root)
    except ExprunError as exc:
        return f"review endpoint=(none: {exc})"
    if not who.base_url:
        return f"review endpoint=(none) ({who.origin})"
    return f"review endpoint={code_review.shown_url(who.base_url)} model={who.model or '(none)'} ({who.origin})"


def _review_line(review: dict, code: Path) -> str:
    who = review.get("reviewer") or {}
    origin = f" at {who['base_url']} ({who['settings_from']})" if who.get("base_url") else ""
    if review.get("status") == "reviewed":
        fix = f"; fix round: {review['fix']}" if review.get("fix") else ""
        return (
            f"reviewed by {review.get('model')}{origin}: verdict {review.get('verdict')}{fix} — read {code}/REVIEW.md"
        )
    return f"unreviewed ({review.get('reason', 'review not run')})"
