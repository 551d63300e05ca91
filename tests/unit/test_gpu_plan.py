"""One rule for "needs a GPU", used by the sanity run, the gate and every launch."""

from __future__ import annotations

import pytest

from exprun.prepare.gpu_plan import gpu_plan
from exprun.wiki import pages


def page_with(tmp_path, hardware: str):
    path = tmp_path / "wiki" / "experiments" / "x.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'---\ntitle: "x"\nstatus: planned\nsetup:\n  hardware: "{hardware}"\n---\n')
    return pages.load_page(path)


@pytest.mark.parametrize(
    "hardware, code, needed",
    [
        ("1x A100", "print('hi')\n", True),
        ("cpu", "print('hi')\n", False),
        ("", "print('hi')\n", False),
        ("a workstation", "model.to('cuda')\n", True),
        ("none", "x = torch.device('cuda')\n", True),  # the code's CUDA use wins, and the gate flags it
    ],
)
def test_the_rule(tmp_path, hardware, code, needed):
    folder = tmp_path / "code"
    folder.mkdir()
    (folder / "train.py").write_text(code)
    plan = gpu_plan(page_with(tmp_path, hardware), folder, 2)
    assert plan.needed is needed and plan.count == (2 if needed else 0)
    assert ("GPU(s)" in plan.describe(500)) is needed
