"""A per-seed plot next to the page, so the spread is seen, not only summarised; for a sweep, the metric
against each swept value, so the sensitivity is seen too."""

from __future__ import annotations

import io
from pathlib import Path

from exprun.core.files import atomic_write_bytes
from exprun.verdict.arm_sweeps import show_value
from exprun.verdict.results import Summary, by_metric


def seed_plot(summary: Summary, path: Path, title: str) -> bool:
    """One panel per metric: each seed's value and the baseline mean; False when nothing to plot."""
    if not summary.metrics:
        return False
    import matplotlib  # heavy; only collect needs it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    count = len(summary.metrics)
    fig, axes = plt.subplots(1, count, figsize=(3.2 * count, 3), squeeze=False)
    rows_of = by_metric(summary.per_seed)
    for ax, metric in zip(axes[0], summary.metrics, strict=False):
        rows = rows_of.get(metric.metric, [])
        # Seeds on a numeric axis: a label per seed is unreadable (and slow to lay out) past a few dozen.
        seeds, values = [row.seed for row in rows], [row.value for row in rows]
        ax.scatter(seeds, values, s=12 if len(rows) > 50 else 30, label="ours", zorder=3)
        ax.axhline(metric.mean, color="C0", linestyle=":", label=f"mean {metric.mean:.3f}")
        if metric.baseline is not None:
            ax.axhline(metric.baseline, color="C3", linestyle="--", label=f"baseline {metric.baseline:.3f}")
        ax.set_title(metric.metric)
        ax.set_xlabel("seed")
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    save_png(fig, path)
    return True


def arm_plot(summary, path: Path, title: str) -> bool:
    """Each arm's mean of the primary metric with its 95 % interval as an error bar, and every seed's value."""
    arms = [a for a in summary.arms if summary.intervals[a.name].n]
    if not arms:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(3.2, 0.9 * len(arms) + 1.5), 3.2))
    for x, arm in enumerate(arms):
        i = summary.intervals[arm.name]
        err = [[i.mean - i.low], [i.high - i.mean]] if i.low is not None else None
        ax.errorbar(
            [x], [i.mean], yerr=err, fmt="o", capsize=4, color="C3" if arm.role == "control" else "C0", zorder=3
        )
        seeds = list(summary.values[arm.name].values())
        ax.scatter([x] * len(seeds), seeds, s=10, color="0.5", zorder=2)
    ax.set_xticks(range(len(arms)), [a.name for a in arms], rotation=30, ha="right", fontsize=7)
    ax.set_ylabel(summary.primary)
    ax.set_title(f"{title} (mean, 95 % CI)", fontsize=8)
    save_png(fig, path)
    return True


def sweep_axis(table) -> str:
    """ "log" for positive numbers spanning ≥ 2 decades, "linear" for other numbers, else "categorical"."""
    if not table.numeric or not table.rows:
        return "categorical"
    values = [float(r.value) for r in table.rows]
    return "log" if min(values) > 0 and max(values) / min(values) >= 100 else "linear"


def sweep_plot(summary, path: Path, title: str) -> bool:
    """One panel per swept parameter: each value's mean with its 95 % interval (the control's mean dashed)."""
    tables = [t for t in summary.sweeps if t.best is not None]
    if not tables:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(tables), figsize=(3.4 * len(tables), 3.2), squeeze=False)
    reference = next((a for a in summary.arms if a.role == "control"), None)
    for ax, table in zip(axes[0], tables, strict=False):
        rows = [r for r in table.rows if r.interval.n]
        axis = sweep_axis(table)
        xs = [float(r.value) for r in rows] if axis != "categorical" else list(range(len(rows)))
        means = [r.interval.mean for r in rows]
        err = [
            [r.interval.mean - r.interval.low if r.interval.low is not None else 0 for r in rows],
            [r.interval.high - r.interval.mean if r.interval.low is not None else 0 for r in rows],
        ]
        ax.errorbar(xs, means, yerr=err, fmt="o-" if axis != "categorical" else "o", capsize=4, color="C0", zorder=3)
        if axis == "log":
            ax.set_xscale("log")
        if axis == "categorical":
            ax.set_xticks(xs, [show_value(r.value) for r in rows], rotation=30, ha="right", fontsize=7)
        if reference is not None and summary.intervals[reference.name].n:
            mean = summary.intervals[reference.name].mean
            ax.axhline(mean, color="C3", linestyle="--", label=f"{reference.name} {mean:.3f}")
            ax.legend(fontsize=7)
        ax.set_xlabel(table.parameter)
        ax.set_ylabel(summary.primary)
    fig.suptitle(f"{title} (mean, 95 % CI)", fontsize=8)
    save_png(fig, path)
    return True


def save_png(fig, path: Path) -> None:
    """Lay the figure out, write it atomically as a PNG, and free it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(Path(path), buffer.getvalue())
