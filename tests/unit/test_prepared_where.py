"""Attack: a deploy to the server (or the cluster) on the strength of a sanity run that passed on this laptop,
or with a dataset check that found nothing, is refused before anything launches."""

from __future__ import annotations

import json

import pytest

from exprun.core.errors import GateError
from exprun.core.paths import Paths
from exprun.machines.launchers.base import Backend
from exprun.run.deploy import require_prepared

HASH = "ab" * 32


def prepared(tmp_path, where: str | None, present=True) -> Paths:
    paths = Paths("demo", tmp_path)
    paths.sanity.parent.mkdir(parents=True)
    paths.dataset.write_text(json.dumps({"present": present, "summary": "x"}))
    sanity = {"status": "passed", "code_hash": HASH, **({"where": where} if where else {})}
    paths.sanity.write_text(json.dumps(sanity))
    return paths


@pytest.mark.parametrize(
    "where, backend, refused",
    [
        ("local (laptop)", Backend.SSH, True),
        ("local (laptop)", Backend.SLURM, True),
        (None, Backend.SSH, True),
        ("remote 10.0.0.5:/srv/w", Backend.SSH, False),
        ("slurm (login1)", Backend.SLURM, False),
        ("local (laptop)", Backend.SCREEN, False),
        ("remote 10.0.0.5:/srv/w", Backend.SCREEN, True),
        ("local (node7)", Backend.JOBS, False),
    ],
)
def test_the_sanity_run_must_have_run_where_the_deploy_goes(tmp_path, where, backend, refused):
    paths = prepared(tmp_path, where)
    if not refused:
        require_prepared(paths, HASH, False, backend)
        return
    with pytest.raises(GateError, match=f"this deploy runs on {backend.env_label}.*--forcerun sanity_check"):
        require_prepared(paths, HASH, False, backend)
    require_prepared(paths, HASH, True, backend)  # --skip-sanity: a person's explicit, recorded override


def test_a_dataset_check_that_found_nothing_is_not_a_pass(tmp_path):
    paths = prepared(tmp_path, "local (laptop)", present=False)
    with pytest.raises(GateError, match="found no data.*exprun fetch-data demo"):
        require_prepared(paths, HASH, False, Backend.SCREEN)
