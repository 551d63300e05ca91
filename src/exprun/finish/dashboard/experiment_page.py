"""One experiment's page of the dashboard: status now, the result collect decided (outcome, reasons, the arms' or
metrics' table with intervals, next steps), plots, anomalies and crashes, the approval, the files to open."""

from __future__ import annotations

import math
import os
from pathlib import Path

from exprun.finish.dashboard.facts import Experiment, Site, command
from exprun.finish.dashboard.markup import Html, href, join, tag
from exprun.finish.dashboard.render import INDEX, OUTPUT_DIR, badge, code_spans, document, number
from exprun.verdict import reports


def experiment_html(e: Experiment, site: Site) -> str:
    """An experiment's page: status now, result, plots, anomalies and crashes, approval, files."""
    out_dir = site.root / OUTPUT_DIR
    body = [
        tag("nav", tag("a", "← All experiments", href=INDEX), aria_label="Back"),
        tag("header", tag("h1", e.title), tag("p", tag("span", e.slug, class_="slug"), " ", badge(e))),
        tag(
            "main",
            tag("p", tag("strong", "Hypothesis: "), e.fields["hypothesis"]) if e.fields.get("hypothesis") else None,
            _status_section(e, site),
            _result_section(e) if e.status == "completed" else None,
            _plots_section(e, out_dir) if e.plots else None,
            _trouble_section(e) if e.group != "planned" else None,
            _approval_section(e),
            _files_section(e, site.root, out_dir),
        ),
        tag("footer", "Written by exprun from the page and its state files; regenerated at every collect and status."),
    ]
    return document(f"{e.title} — exprun dashboard", body)


def _section(title: str, anchor: str, *content: object) -> Html:
    return tag("section", tag("h2", title, id=anchor), *content, aria_labelledby=anchor)


def _pairs(rows: list[tuple[str, object]]) -> Html:
    return tag("dl", [join([tag("dt", k), tag("dd", v)]) for k, v in rows if v not in (None, "")])


def _status_section(e: Experiment, site: Site) -> Html:
    rows: list[tuple[str, object]] = [("Status", badge(e)), ("Page status", e.status)]
    if e.group in ("running", "anomaly", "ended"):
        live = e.live
        rows += [
            ("Progress", live.get("progress")),
            ("Latest metric", live.get("latest_metric")),
            ("Elapsed", live.get("elapsed")),
            ("ETA", live.get("eta")),
            ("Where", live.get("env")),
            ("How it ended", live.get("ended")),
            ("As of", site.scanned_at),
        ]
    elif e.group in ("planned", "unchecked", "unreadable"):
        rows.append(("Next", code_spans(e.detail)))
    rows += [("Started", e.fields.get("started")), ("Completed", e.fields.get("date_completed"))]
    return _section("Status", "status", _pairs(rows))


def _result_section(e: Experiment) -> Html:
    c = e.collected
    parts: list[object] = [
        _pairs([("Outcome", badge(e)), ("Key result", e.fields.get("key_result")), ("Method", c.get("method"))])
    ]
    if c.get("reasons"):
        parts += [tag("h3", "Why this outcome"), tag("ul", [tag("li", r) for r in c["reasons"]])]
    if c.get("arms"):
        parts.append(_arms_table(c))
    elif c.get("metrics"):
        parts.append(_metrics_table(c))
    elif not c:
        parts.append(tag("p", "No collected.json: the page was completed without exprun's collect.", class_="note"))
    if c:
        parts += [
            tag("h3", "Next steps"),
            tag("ul", [tag("li", code_spans(s.removeprefix("- "))) for s in _next_steps(c)]),
        ]
    return _section("Result", "result", *parts)


def _next_steps(collected: dict) -> list[str]:
    try:
        return reports.next_steps(collected)
    except (KeyError, TypeError, ValueError):  # a collected.json of another version: the steps are a courtesy
        return []


def _arms_table(c: dict) -> Html:
    deltas = {str(d.get("arm")): d for d in c.get("differences") or [] if isinstance(d, dict)}
    primary = c.get("primary_metric") or "primary metric"
    head = ("Arm", "Role", "Factor", f"{primary}: mean ± std", "95 % CI", "n", "Δ vs reference (95 % CI)", "Class")
    rows = []
    for arm in c["arms"]:
        if not isinstance(arm, dict):
            continue
        d = deltas.get(str(arm.get("name")))
        delta = "—"
        if d:
            delta = f"{number(d.get('mean'), True)} [{number(d.get('ci_low'), True)}, {number(d.get('ci_high'), True)}]"
            delta += f" vs {d.get('reference')}"
        rows.append(
            tag(
                "tr",
                tag("th", arm.get("name"), scope="row"),
                tag("td", arm.get("role") or "", data_label="Role"),
                tag("td", arm.get("factor") or "—", data_label="Factor"),
                tag(
                    "td", f"{number(arm.get('mean'))} ± {number(arm.get('std'))}", class_="num", data_label="Mean ± std"
                ),
                tag("td", _ci(arm), class_="num", data_label="95 % CI"),
                tag("td", arm.get("n"), class_="num", data_label="n"),
                tag("td", delta, class_="num", data_label="Δ"),
                tag("td", arm.get("class") or "—", data_label="Class"),
            )
        )
    return join(
        [
            tag("h3", "Arms"),
            tag(
                "table",
                tag("caption", f"Each arm's {primary} over its seeds, with its 95 % interval"),
                tag("thead", tag("tr", [tag("th", h, scope="col") for h in head])),
                tag("tbody", rows),
                class_="cards",
            ),
        ]
    )


def _ci(values: dict) -> str:
    low, high = values.get("ci_low"), values.get("ci_high")
    return "—" if low is None or high is None else f"[{number(low)}, {number(high)}]"


def _metrics_table(c: dict) -> Html:
    head = ("Metric", "Baseline", "Mean ± std", "n", "Δ vs baseline")
    rows = []
    for m in c["metrics"]:
        if not isinstance(m, dict):
            continue
        rel = m.get("relative_delta")
        relative = f" ({rel:+.1%})" if isinstance(rel, (int, float)) and math.isfinite(rel) else ""
        rows.append(
            tag(
                "tr",
                tag("th", m.get("metric"), scope="row"),
                tag("td", number(m.get("baseline")), class_="num", data_label="Baseline"),
                tag("td", f"{number(m.get('mean'))} ± {number(m.get('std'))}", class_="num", data_label="Mean ± std"),
                tag("td", m.get("n"), class_="num", data_label="n"),
                tag("td", number(m.get("delta"), True) + relative, class_="num", data_label="Δ"),
            )
        )
    return join(
        [
            tag("h3", "Metrics"),
            tag(
                "table",
                tag("caption", "Each metric's mean and spread over the seeds, against the baseline"),
                tag("thead", tag("tr", [tag("th", h, scope="col") for h in head])),
                tag("tbody", rows),
                class_="cards",
            ),
        ]
    )


def _plots_section(e: Experiment, out_dir: Path) -> Html:
    figures = []
    for plot in e.plots:
        what = (
            "sweep: the primary metric against each swept value"
            if plot.stem.endswith("_sweep")
            else (
                "arms: each arm's mean with its 95 % interval and every seed's value"
                if e.collected.get("arms")
                else "seeds: each seed's value of every metric, with the mean and the baseline"
            )
        )
        link = href(plot, out_dir)
        figures.append(
            tag(
                "figure",
                tag("a", tag("img", src=link, alt=f"Plot of {e.title} — {what}", loading="lazy"), href=link),
                tag("figcaption", what[0].upper() + what[1:] + "."),
            )
        )
    return _section("Plots", "plots", *figures)


def _trouble_section(e: Experiment) -> Html:
    """Every anomaly and crash exprun saw, in its own words, with what to do."""
    lines: list[Html] = []
    if e.group == "anomaly":
        action = e.live.get("action") or ""
        lines.append(
            tag("li", "Anomaly: ", e.detail, tag("br") if action else None, code_spans(action) if action else None)
        )
    if e.group == "ended":
        lines.append(tag("li", e.detail, " — collect it: ", tag("code", command(f"collect_{e.slug}"))))
    crash = e.collected.get("crash")
    if isinstance(crash, dict):
        lines.append(
            tag("li", "Crash: ", reports.crash_text(crash), "; suggested: ", crash.get("suggestion") or "read the log")
        )
    if e.evidence_changed:
        folder = (e.collected.get("evidence") or {}).get("folder", "")
        lines.append(
            tag(
                "li",
                "Evidence changed since collect: ",
                ", ".join(e.evidence_changed),
                f"; the page rests on the archived copy in {folder}/" if folder else "",
            )
        )
    if e.group == "unreadable":
        lines.append(tag("li", e.detail))
    content = tag("ul", lines) if lines else tag("p", "None seen.", class_="note")
    return _section("Anomalies and crashes", "trouble", content)


def _approval_section(e: Experiment) -> Html:
    a = e.approval
    if a is None:
        return _section("Approval", "approval", tag("p", "Not approved.", class_="note"))
    hash_text = tag("code", a.code_hash) if a.code_hash else None
    return _section(
        "Approval",
        "approval",
        _pairs([("Approved by", a.who), ("When", a.when), ("Code hash", hash_text), ("How", a.how)]),
    )


def _files_section(e: Experiment, root: Path, out_dir: Path) -> Html:
    names = {
        "page": "The wiki page",
        "RUN_REPORT": "RUN_REPORT.md",
        "log": "The run's log",
        "approval checklist": "The approval checklist (GATE.md)",
    }
    items = [
        tag(
            "li",
            tag("a", names.get(label, label), href=href(path, out_dir)),
            " ",
            tag("span", Path(os.path.relpath(path, root)).as_posix(), class_="slug"),
        )
        for label, path in e.files.items()
    ]
    return _section("Files", "files", tag("ul", items))
