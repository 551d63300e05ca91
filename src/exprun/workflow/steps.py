"""Each workflow step as one call that returns what to show: what `exprun rule <step>` runs, which is
what the Snakemake rules call (a `shell:` step: Snakemake 9 runs `run:` blocks in a subprocess that
re-parses the workflow, which is slower)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from exprun.core.errors import ExprunError
from exprun.core.settings import Settings
from exprun.core.slugs import validate_slug

STEPS = ("generate", "dataset", "review", "sanity", "prepared", "gate", "deploy", "start-jobs", "collect", "wait")


def run(step: str, slug: str, settings: Settings, root: Path = Path(".")) -> str:
    """Do one step for one experiment; the text says what happened (ExprunError says why not)."""
    slug, root = validate_slug(slug), Path(root)
    if step == "generate":
        from exprun.prepare.codegen import generate  # each step imports only what it needs

        result = generate.generate(slug, settings, root)
        kept = f"; kept files a person changed: {', '.join(result.kept)}" if result.kept else ""
        notes = "".join(f"\n  note: {note}" for note in result.notes)
        return f"{slug}: generated {len(result.written)} files in {result.folder} ({result.generator}){kept}{notes}"
    if step == "dataset":
        from exprun.prepare import dataset

        report = dataset.check_dataset(slug, root, settings)  # looks where the run will run; writes dataset.json
        return f"{slug}: dataset ok — {report['summary']}"
    if step == "review":
        from exprun.prepare import code_repair

        record = code_repair.review_and_repair(slug, settings, root)
        why = f" ({record['reason']})" if record.get("reason") else f", verdict {record.get('verdict')}"
        fix = f"; fix round: {record['fix']}" if record.get("fix") else ""
        return f"{slug}: {record['status']}{why}{fix}"
    if step == "sanity":
        from exprun.prepare import code_repair

        report = code_repair.sanity_with_repair(slug, settings, root)
        fixed = f" (after the fix round: {report['fix_round']})" if report.get("fix_round") else ""
        return f"{slug}: sanity passed in {report['wall_time_s']} s{fixed} — " + "; ".join(
            f"{c['name']}: {c['detail']}" for c in report["checks"]
        )
    if step == "prepared":
        from exprun.gate import approval as gate

        return gate.prepared(slug, settings, root)
    if step == "gate":
        from exprun.gate import approval as gate

        gate.verify(slug, settings, root)
        return f"{slug}: approval verified"
    if step in ("deploy", "start-jobs"):
        from exprun.gate import approval as gate
        from exprun.run import deploy
        from exprun.verdict import reports

        # The gate as a person meets it (its checklist when no current approval covers the code), in the same job
        # as the launch: the launch then checks the approval again itself, under the deploy lock.
        gate.verify(slug, settings, root)
        data = deploy.deploy(slug, settings, root) if step == "deploy" else deploy.start_seed_jobs(slug, settings, root)
        _dashboard(root)
        return _as_json(data) if settings.json else reports.deploy_report(data)
    if step in ("collect", "wait"):
        from exprun.finish import collect

        say = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
        data = (
            collect.wait_and_collect(slug, settings, root, say=say)
            if step == "wait"
            else collect.collect(slug, settings, root)
        )
        _dashboard(root)
        return _as_json(data) if settings.json else data["report"]
    raise ExprunError(f"unknown step '{step}' (one of {', '.join(STEPS)})")


def _dashboard(root: Path) -> None:
    """The dashboard after a step that changed what it shows (cheap: from the last status scan, no run probed)."""
    from exprun.finish.dashboard import site

    site.quietly(root)


def _as_json(data: dict) -> str:
    return json.dumps({k: v for k, v in data.items() if k != "report"}, ensure_ascii=False, default=str)
