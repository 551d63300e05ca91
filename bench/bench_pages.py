"""Pages: parse 1,000 pages, and 1,000 surgical `set_field` edits, against reading the raw bytes.

The raw read only gives scale (there is no target): how much of a parse or an edit is the disk.
"""

from __future__ import annotations

import sys
from pathlib import Path

from common import TAG, Result, best, fmt_s, header, repeat_timed, report, temp_dir, write_pages

COUNT = 1000
REPEAT = 3


def run() -> list[Result]:
    from exprun.wiki import pages

    header(f"pages: {COUNT} copies of the example page")
    results = []
    with temp_dir("pages") as root:
        paths = write_pages(root, [f"{TAG}-page-{i:04d}" for i in range(COUNT)])

        def read_raw() -> None:
            for path in paths:
                path.read_bytes()

        def parse_all() -> None:
            for path in paths:
                pages.load_page(path)

        rounds = iter(range(10**6))

        def edit_all() -> None:
            stamp = next(rounds)  # a new value each round, so every edit really writes
            for index, path in enumerate(paths):
                pages.set_field(path, "key_result", f"round {stamp} page {index}")

        read_raw()
        parse_all()  # warm the page cache and the imports
        raw = repeat_timed(read_raw, REPEAT)
        parsed = repeat_timed(parse_all, REPEAT)
        edited = repeat_timed(edit_all, REPEAT)

        check = pages.load_page(paths[-1])
        assert check.meta["key_result"] == f"round {REPEAT - 1} page {COUNT - 1}", check.meta["key_result"]
        assert check.slug == f"{TAG}-page-{COUNT - 1:04d}"

        results.append(
            report(
                Result(
                    f"parse {COUNT} pages (load_page)",
                    best(parsed),
                    best(raw),
                    "info",
                    None,
                    f"parse {COUNT}",
                    f"raw read {COUNT}",
                ),
                parsed,
                raw,
            )
        )
        print(f"    per page: parse {fmt_s(best(parsed) / COUNT)}, raw read {fmt_s(best(raw) / COUNT)}")
        results.append(
            report(
                Result(
                    f"{COUNT} set_field edits",
                    best(edited),
                    best(raw),
                    "info",
                    None,
                    f"{COUNT} edits",
                    f"raw read {COUNT}",
                ),
                edited,
                raw,
            )
        )
        print(
            f"    per edit: {fmt_s(best(edited) / COUNT)} "
            "(lock, read, 2 YAML parses, atomic write with fsync of file and folder)"
        )
    return results


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    run()
