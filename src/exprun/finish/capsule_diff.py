"""`exprun diff`: what differs between two runs' capsules — code files by hash, packages added, removed or changed,
the interpreter, OS and GPUs, the data's fingerprint, settings, seeds and hardware — for people and as JSON.

Only checked capsules are compared (run/capsule_read.py): a file changed after exprun wrote it is refused, never
compared as if it were what ran.
"""

from __future__ import annotations

import json
import re
from typing import Any

from exprun.run.capsule_read import Capsule

NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)")
EGG = re.compile(r"[#&]egg=([A-Za-z0-9._-]+)")
# The environment's fields compared, as (label, path into the probe's answer).
ENVIRONMENT_FIELDS = (
    ("host", ("host",)),
    ("python", ("python", "version")),
    ("python implementation", ("python", "implementation")),
    ("os", ("os", "distribution")),
    ("kernel", ("os", "release")),
    ("machine", ("os", "machine")),
    ("conda env", ("conda", "env")),
    ("GPU driver", ("gpu", "driver")),
    ("CUDA", ("gpu", "cuda")),
    ("torch CUDA build", ("gpu", "torch_cuda")),
)
SETTINGS_ENV = ("EXPRUN_TASKS", "EXPRUN_PARALLEL")


def normalise(name: str) -> str:
    """A package's name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def packages(lines: list[str]) -> dict[str, str]:
    """`pip freeze` (or `conda list`) lines -> normalised name -> what was installed (version, URL or path)."""
    found: dict[str, str] = {}
    for line in lines:
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if text.startswith("-e "):
            egg = EGG.search(text)
            name = egg.group(1) if egg else text[3:].rstrip("/").rsplit("/", 1)[-1]
            found[normalise(name)] = text
            continue
        match = NAME.match(text)
        if not match:
            continue
        rest = text[match.end() :].strip()
        found[normalise(match.group(1))] = rest[2:] if rest.startswith("==") else rest.lstrip("=") or text
    return found


def _dig(data: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings as dotted keys (hyperparameters.optimizer.lr), lists and values as they are."""
    if not isinstance(data, dict):
        return {prefix: data} if prefix else {}
    out: dict[str, Any] = {}
    for key, value in data.items():
        out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def changes(a: dict[str, Any], b: dict[str, Any]) -> list[dict]:
    return [{"field": k, "a": a.get(k), "b": b.get(k)} for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


def code(a: dict, b: dict) -> dict:
    fa, fb = (a.get("snapshot") or {}).get("files") or {}, (b.get("snapshot") or {}).get("files") or {}
    return {
        "approved_hash": [a.get("approved_hash"), b.get("approved_hash")],
        "added": sorted(set(fb) - set(fa)),
        "removed": sorted(set(fa) - set(fb)),
        "changed": sorted(k for k in set(fa) & set(fb) if fa[k] != fb[k]),
        "files": len(fa),
    }


def package_changes(ea: dict | None, eb: dict | None) -> dict:
    if ea is None or eb is None:
        return {"recorded": [ea is not None, eb is not None]}
    pa = packages(((ea.get("packages") or {}).get("lines") or []) + ((ea.get("conda") or {}).get("lines") or []))
    pb = packages(((eb.get("packages") or {}).get("lines") or []) + ((eb.get("conda") or {}).get("lines") or []))
    return {
        "recorded": [True, True],
        "added": {k: pb[k] for k in sorted(set(pb) - set(pa))},
        "removed": {k: pa[k] for k in sorted(set(pa) - set(pb))},
        "changed": {k: [pa[k], pb[k]] for k in sorted(set(pa) & set(pb)) if pa[k] != pb[k]},
        "count": [len(pa), len(pb)],
    }


def environment_fields(env: dict | None) -> dict[str, Any]:
    if env is None:
        return {}
    fields = {label: _dig(env, path) for label, path in ENVIRONMENT_FIELDS}
    fields["GPUs"] = [d.get("name") for d in (_dig(env, ("gpu", "devices")) or [])] or "none"
    return fields


def settings_fields(data: dict) -> dict[str, Any]:
    env = (data.get("command") or {}).get("env") or {}
    return {
        **flatten(data.get("hyperparameters") or {}, "hyperparameters"),
        "arms": data.get("arms") or [],
        "tasks": data.get("tasks") or [],
        **{f"env {k}": env.get(k) for k in SETTINGS_ENV},
        **flatten(data.get("settings") or {}, "settings"),
        **flatten(data.get("interpreter") or {}, "interpreter"),
        "sanity skipped": data.get("sanity_skipped"),
    }


def diff(a: Capsule, b: Capsule) -> dict:
    """Every difference between two trusted capsules, by section."""
    a.require_trusted()
    b.require_trusted()
    da, db = a.data, b.data
    dataset_a = {k: v for k, v in (da.get("dataset") or {}).items() if k != "checked_at"}
    dataset_b = {k: v for k, v in (db.get("dataset") or {}).items() if k != "checked_at"}
    git_a, git_b = da.get("git") or {}, db.get("git") or {}
    return {
        "a": a.name,
        "b": b.name,
        "runs": [da.get("run_id"), db.get("run_id")],
        "code": code(da, db),
        "packages": package_changes(a.environment, b.environment),
        "environment": changes(environment_fields(a.environment), environment_fields(b.environment)),
        "data": changes(dataset_a, dataset_b),
        "settings": changes(settings_fields(da), settings_fields(db)),
        "seeds": changes({"seeds": da.get("seeds")}, {"seeds": db.get("seeds")}),
        "hardware": changes(flatten(da.get("hardware") or {}), flatten(db.get("hardware") or {})),
        "git": changes(
            {k: git_a.get(k) for k in ("commit", "code_dirty")}, {k: git_b.get(k) for k in ("commit", "code_dirty")}
        ),
    }


def _value(value: Any) -> str:
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return "—" if value is None else str(value)


def _changes_text(found: list[dict]) -> str:
    return "; ".join(f"{c['field']} {_value(c['a'])} → {_value(c['b'])}" for c in found)


def render(d: dict) -> str:
    """The diff for people: one line per section, `same` where nothing differs."""
    code_part = d["code"]
    moved = [
        f"{len(code_part[kind])} {kind} ({', '.join(code_part[kind][:8])}{', …' if len(code_part[kind]) > 8 else ''})"
        for kind in ("changed", "added", "removed")
        if code_part[kind]
    ]
    ha, hb = (str(h)[:12] for h in code_part["approved_hash"])
    code_text = (
        f"{'; '.join(moved)} — approved {ha} → {hb}" if moved else f"same ({code_part['files']} files, approved {ha})"
    )
    lines = [f"exprun diff {d['a']} → {d['b']}", f"  code: {code_text}", f"  packages: {_packages_text(d['packages'])}"]
    for section, label in (
        ("environment", "environment"),
        ("data", "data"),
        ("settings", "settings"),
        ("seeds", "seeds"),
        ("hardware", "hardware"),
        ("git", "wiki git"),
    ):
        lines.append(f"  {label}: {_changes_text(d[section]) or 'same'}")
    return "\n".join(lines)


def _packages_text(p: dict) -> str:
    if not all(p["recorded"]):
        missing = [side for side, ok in zip(("first", "second"), p["recorded"], strict=True) if not ok]
        return f"not compared: the {' and '.join(missing)} run's environment was not recorded"
    parts = [f"{name} {old} → {new}" for name, (old, new) in p["changed"].items()]
    parts += [f"+ {name} {spec}" for name, spec in p["added"].items()]
    parts += [f"- {name} {spec}" for name, spec in p["removed"].items()]
    return "; ".join(parts) if parts else f"same ({p['count'][0]} packages)"
