"""Workflow start-up: a dry run of one `prepare_<slug>` in a wiki of 1,000 experiment pages vs 1 page.

Both wikis hold the same example page under the slug that is asked for; the large one adds 999
copies. Target: ≤ 1.3× (the per-experiment targets must not cost per page on every call).
"""

from __future__ import annotations

import sys
from pathlib import Path

from common import TAG, Result, best, copy_wiki, header, interleaved, report, snakemake, temp_dir, write_pages

COUNT = 1000
REPEAT = 5
TARGET = 1.3


def run() -> list[Result]:
    header(f"workflow start-up: dry run of prepare_<slug> with {COUNT} pages vs 1")
    slug = f"{TAG}-asked"
    with temp_dir("startup") as tmp:
        small, large = copy_wiki(tmp / "one"), copy_wiki(tmp / "many")
        write_pages(small, [slug])
        write_pages(large, [slug] + [f"{TAG}-page-{i:04d}" for i in range(COUNT - 1)])

        def dry(root: Path):
            return lambda: snakemake(root, "-n", f"prepare_{slug}")

        dry(small)()
        dry(large)()  # warm imports and the file cache
        many, one = interleaved(dry(large), dry(small), REPEAT)
        return [
            report(
                Result(
                    f"dry run prepare_<slug>, {COUNT} pages vs 1",
                    best(many),
                    best(one),
                    "ratio",
                    TARGET,
                    f"{COUNT} pages",
                    "1 page",
                ),
                many,
                one,
            )
        ]


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    run()
