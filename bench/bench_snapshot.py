"""The approved snapshot: what copying the approved bytes costs at launch, against hashing them alone.

1. A 1,000-file code folder (50 folders of 20 small Python files, 1-4 KB each): snapshot.take into a fresh
   place (read each file once, hash it, write it, make the copy read-only) against integrity.folder_hash of
   the same folder (what every launch already paid for the approval check). Target: ≤ 2x the hash.
2. The same take again, unchanged (an unchanged re-deploy): it finds the snapshot and verifies it instead of
   copying. Printed against the hash too; it must reuse the folder (same inode), not copy it again.
3. For scale: creating 1,000 small files against reading them, on the same disk. A copy must create its files,
   and on some disks (seen on a VM disk mounted with `discard`, right after many deletions) a create costs
   tens of times a read; the ratio of 1 follows that, so read it together with this line.
"""

from __future__ import annotations

import os
import shutil

from common import Result, best, header, interleaved, report, temp_dir

SLUG = "bench-snapshot"


def make_folder(code) -> None:
    for d in range(50):
        folder = code / f"pkg{d:02d}"
        folder.mkdir(parents=True)
        for f in range(20):
            (folder / f"mod{f:02d}.py").write_text(f"# module {d}.{f}\n" + "x = 1  # padding\n" * (64 + 48 * (f % 4)))


def _create_vs_read(folder) -> tuple[float, float]:
    import time

    folder.mkdir()
    data = b"x = 1  # padding\n" * 100
    start = time.perf_counter()
    for i in range(1000):
        fd = os.open(folder / f"f{i}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        os.write(fd, data)
        os.close(fd)
    created = time.perf_counter() - start
    start = time.perf_counter()
    for i in range(1000):
        fd = os.open(folder / f"f{i}", os.O_RDONLY)
        os.read(fd, 1 << 20)
        os.close(fd)
    return created, time.perf_counter() - start


def run() -> list[Result]:
    from exprun.trust import integrity, snapshot

    header("snapshot: copy + hash of a 1,000-file code folder vs the hash alone")
    found = []
    with temp_dir("snapshot") as tmp:
        root = tmp / "wiki"
        code = root / "experiments" / "code" / SLUG
        make_folder(code)
        approved = integrity.folder_hash(code)
        place = root / snapshot.location(SLUG, approved)
        taken = iter(range(100))

        def fresh() -> None:  # a slug of its own each time: a fresh copy, with nothing to clear first
            snapshot.take(f"{SLUG}-{next(taken)}", root, code, approved)

        takes, hashes = interleaved(fresh, lambda: integrity.folder_hash(code), repeat=7)
        snapshot.take(SLUG, root, code, approved)
        found.append(
            report(
                Result(
                    "snapshot.take (copy + hash) vs folder_hash, 1,000 files",
                    best(takes),
                    best(hashes),
                    target=2.0,
                    a_label="take",
                    b_label="hash",
                ),
                takes,
                hashes,
            )
        )
        inode = os.stat(place).st_ino
        again, hashes = interleaved(
            lambda: snapshot.take(SLUG, root, code, approved), lambda: integrity.folder_hash(code), repeat=7
        )
        reused = os.stat(place).st_ino == inode
        found.append(
            report(
                Result(
                    f"unchanged re-deploy: take again ({'reused' if reused else 'COPIED AGAIN'}) vs folder_hash",
                    best(again),
                    best(hashes),
                    target=2.0,
                    a_label="reuse",
                    b_label="hash",
                ),
                again,
                hashes,
            )
        )
        found.append(
            report(
                Result(
                    "for scale: create 1,000 small files vs read them",
                    *_create_vs_read(tmp / "scale"),
                    kind="info",
                    a_label="create",
                    b_label="read",
                )
            )
        )
        snapshot._remove(root / "snapshots")
        shutil.rmtree(code)
    return found


if __name__ == "__main__":
    run()
