"""Sweep arms per swept parameter: which setting each arm changes, one table per parameter with its values'
intervals and Δ vs the control, the best value and the sensitivity (how far the mean moves)."""

from __future__ import annotations

from typing import cast

from exprun.experiment.arms import Arm, control
from exprun.verdict import arm_stats
from exprun.verdict.arm_summary import ArmsSummary, SweepRow, SweepTable, is_number


def swept(arm: Arm) -> dict[str, object]:
    """The settings an arm's overrides change, as dotted path → value (a list value is one value)."""
    found: dict[str, object] = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict) and value:
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        elif prefix:
            found[prefix] = value

    walk("", arm.overrides)
    return found


def sweep_tables(summary: ArmsSummary) -> list[SweepTable]:
    """One table per swept parameter: its values' numbers (numeric values in order), the best, the spread."""
    ref = control(summary.arms)
    deltas = {d.arm: d for d in summary.differences if ref is not None and d.reference == ref.name}
    groups: dict[frozenset, tuple[list[str], list[tuple[Arm, object]]]] = {}
    for arm in summary.arms:
        if arm.role != "sweep":
            continue
        point = swept(arm)
        keys, members = groups.setdefault(frozenset(point), (list(point), []))
        value = point[keys[0]] if len(keys) == 1 else tuple(point[k] for k in keys) if keys else arm.name
        members.append((arm, value))
    short = {k: k.rsplit(".", 1)[-1] for keys, _ in groups.values() for k in keys}
    clash = len(set(short.values())) < len(short)
    tables = []
    for keys, members in groups.values():
        label = " × ".join(k if clash else short[k] for k in keys) or "setting"
        rows = [SweepRow(a.name, value, summary.intervals[a.name], deltas.get(a.name)) for a, value in members]
        if all(is_number(r.value) for r in rows):
            rows.sort(key=lambda r: cast(float, r.value))
        counted = [r for r in rows if r.interval.n]
        pick = max if summary.higher_is_better else min
        best = pick(counted, key=lambda r: r.interval.mean) if counted else None
        means = [r.interval.mean for r in counted]
        tables.append(SweepTable(label, rows, best, max(means) - min(means) if means else None))
    return tables


def show_value(value) -> str:
    if isinstance(value, tuple):
        return ", ".join(show_value(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def best_line(table: SweepTable, primary: str) -> str:
    """The best value with its interval and the sensitivity, in one sentence."""
    assert table.best is not None  # callers pass only a table that has a best row
    i = table.best.interval
    ci = f"95 % CI [{i.low:.4f}, {i.high:.4f}]" if i.low is not None else "no CI from one seed"
    relative = f" ({table.relative_spread:.1%} of the best)" if table.relative_spread is not None else ""
    return (
        f"best {table.parameter} = {show_value(table.best.value)}: {primary} {i.mean:.4f} ({ci}, {i.n} seeds); "
        f"sensitivity: the mean moves by {table.spread:.4f}{relative} across {len(table.rows)} value(s)"
    )


def sweep_data(summary: ArmsSummary) -> list[dict]:
    """The sweep tables for the JSON report: per parameter its rows, the best and the sensitivity."""

    def row(r: SweepRow) -> dict:
        i = r.interval
        delta = (
            None
            if r.delta is None
            else {
                "reference": r.delta.reference,
                "seeds": r.delta.seeds,
                "relative": r.delta.relative,
                **arm_stats.interval_json(r.delta.delta),
            }
        )
        return {
            "arm": r.arm,
            "value": list(r.value) if isinstance(r.value, tuple) else r.value,
            **arm_stats.interval_json(i),
            "delta_vs_control": delta,
        }

    return [
        {
            "parameter": t.parameter,
            "numeric": t.numeric,
            "rows": [row(r) for r in t.rows],
            "best": row(t.best) if t.best else None,
            "sensitivity": {"spread": t.spread, "relative_to_best": t.relative_spread},
        }
        for t in summary.sweeps
    ]
