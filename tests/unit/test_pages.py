"""Pages on disk: parsing, clean one-line errors, surgical edits of real pages, atomic writes."""

from __future__ import annotations

import copy
import difflib
import os
import shutil
import stat
from pathlib import Path

import pytest
import yaml

from exprun.core.errors import PageError, SlugError
from exprun.core.files import atomic_write_text
from exprun.wiki import pages

FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def meta_of(text: str) -> dict:
    lines = text.split("\n")
    end = next(i for i in range(1, len(lines)) if lines[i].rstrip("\r") == "---")
    return yaml.load("\n".join(lines[1:end]), Loader=FAST_LOADER)


def changed(old: str, new: str) -> list[tuple[list[str], list[str]]]:
    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    ops = difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes()
    return [(a[i1:i2], b[j1:j2]) for op, i1, i2, j1, j2 in ops if op != "equal"]


def without(data: dict, dotted: str) -> dict:
    data = copy.deepcopy(data)
    *parents, leaf = dotted.split(".")
    for key in parents:
        data = data[key]
    del data[leaf]
    return data


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))
    return path


def stray_files(folder: Path, page_name: str) -> list[str]:
    """Anything in folder besides the page, its lock sidecar and hidden temp files."""
    allowed = {page_name, f".{page_name}.lock"}
    return [
        p.name
        for p in folder.iterdir()
        if p.name not in allowed and not (p.name.startswith(f".{page_name}.") and p.name.endswith(".tmp"))
    ]


# --------------------------------------------------------------------------- parsing


def test_example_pages_parse(example_wiki):
    found = pages.experiment_pages(example_wiki)
    assert [p.stem for p in found] == ["digits-cnn-gpu", "digits-mlp-ablation", "digits-mlp-vs-logreg"]
    for path in found:
        page = pages.load_page(path)
        assert page.slug == path.stem
        assert page.status == "planned"
        assert page.get("remote.server") == ""
        assert page.get("setup.hardware")
        assert page.get("remote.nope", "dflt") == "dflt"
        assert page.get("status.sub", "dflt") == "dflt"
        assert page.body.lstrip("\n").startswith("## Objective")


def test_every_corpus_page_parses(corpus_page):
    text = corpus_page.read_bytes().decode("utf-8")
    page = pages.parse_page(text, corpus_page)
    assert page.meta == meta_of(text)
    assert page.meta["title"]
    assert page.status in ("planned", "running", "completed", "abandoned")
    assert page.slug
    assert "## " in page.body
    assert not page.body.startswith("---")


def test_body_keeps_a_horizontal_rule_that_looks_like_a_fence():
    text = "---\ntitle: t\nstatus: planned\n---\n\n## Results\n\n---\n\nmore\n"
    page = pages.parse_page(text, Path("x.md"))
    assert page.body == "\n## Results\n\n---\n\nmore\n"
    assert page.meta == {"title": "t", "status": "planned"}


# --------------------------------------------------------------------------- errors


BAD_PAGES = {
    # name: (text, expected line or None, words the message must hold)
    "bad yaml": ('---\ntitle: "t"\nstatus: planned\nbad: a: b\nrun_log: ""\n---\nbody\n', 4, "invalid YAML"),
    "bad yaml crlf": ('---\r\ntitle: "t"\r\nstatus: planned\r\nbad: a: b\r\n---\r\n', 4, "invalid YAML"),
    "tab indent": ("---\ntitle: t\nstatus: planned\nremote:\n\tserver: x\n---\n", 5, "invalid YAML"),
    "unclosed quote": ('---\ntitle: "t\nstatus: planned\nrun_log: x\n---\nbody\n', 2, "invalid YAML"),
    "control char": ("---\ntitle: t\nstatus: planned\nkey_result: a\x7fb\n---\n", 4, "invalid YAML"),
    "control char after unicode": (
        '---\ntitle: "ΔΔΔΔ — ≈≈≈≈"\nstatus: planned\nkey_result: a\x85b\x7f\n---\n',
        4,
        "invalid YAML",
    ),
    "unclosed quote after unicode": (
        '---\ntitle: "ΔΔΔΔ — ≈≈≈≈"\nstatus: planned\nkey_result: "open\nrun_log: x\n---\n',
        4,
        "invalid YAML",
    ),
    "no frontmatter": ("# Just a heading\n\ntitle: t\n", None, "no YAML frontmatter"),
    "empty file": ("", None, "no YAML frontmatter"),
    "unclosed frontmatter": ("---\ntitle: t\nstatus: planned\n\n## Objective\n", None, "not closed"),
    "list frontmatter": ("---\n- a\n- b\n---\n", None, "mapping"),
    "missing title": ("---\nstatus: planned\n---\nbody\n", 2, "'title'"),
    "missing status": ("---\ntitle: t\nslug: x\n---\nbody\n", 2, "'status'"),
}


@pytest.mark.parametrize("name", list(BAD_PAGES))
def test_bad_page_gives_one_line_error_naming_file_and_line(tmp_path, name):
    text, line, words = BAD_PAGES[name]
    path = write(tmp_path / "wiki" / "experiments" / "broken-page.md", text)
    with pytest.raises(PageError) as excinfo:
        pages.load_page(path)
    message = str(excinfo.value)
    assert "\n" not in message
    assert words in message
    prefix = f"{path}:{line}:" if line else f"{path}:"
    assert message.startswith(prefix), message


def test_bad_yaml_error_is_a_page_error_through_set_field(tmp_path):
    text = '---\ntitle: "t"\nstatus: planned\nbad: a: b\n---\n'
    path = write(tmp_path / "p.md", text)
    with pytest.raises(PageError, match=rf"^{path}:4: invalid YAML"):
        pages.set_field(path, "status", "running")
    assert path.read_bytes() == text.encode()


def test_not_utf8_and_not_found(tmp_path):
    path = tmp_path / "latin1.md"
    path.write_bytes("---\ntitle: café\nstatus: planned\n---\n".encode("latin-1"))
    with pytest.raises(PageError, match="not UTF-8"):
        pages.load_page(path)
    with pytest.raises(PageError, match="page not found"):
        pages.load_page(tmp_path / "missing.md")


def test_required_fields_can_be_waived(tmp_path):
    path = write(tmp_path / "p.md", "---\nfoo: 1\n---\n")
    assert pages.load_page(path, required=()).meta == {"foo": 1}


def test_page_path_validates_the_slug(tmp_path):
    assert pages.page_path("digits-cnn-gpu", tmp_path) == tmp_path / "wiki" / "experiments" / "digits-cnn-gpu.md"
    for bad in ("../etc/passwd", "a b", "A", ""):
        with pytest.raises(SlugError):
            pages.page_path(bad, tmp_path)


# --------------------------------------------------------------------------- edits on disk


def test_set_field_edits_only_that_line(example_wiki):
    path = example_wiki / "wiki" / "experiments" / "digits-mlp-vs-logreg.md"
    text = path.read_text()
    assert pages.set_field(path, "remote.server", "gpu-01") == ""
    new = path.read_text()
    assert changed(text, new) == [(['  server: ""\n'], ['  server: "gpu-01"\n'])]
    assert pages.load_page(path).get("remote.server") == "gpu-01"


def test_set_field_missing_is_refused_and_file_untouched(example_wiki):
    path = example_wiki / "wiki" / "experiments" / "digits-cnn-gpu.md"
    before = path.read_bytes()
    with pytest.raises(PageError, match="does not exist"):
        pages.set_field(path, "not_a_field", "x")
    assert path.read_bytes() == before
    assert pages.set_field(path, "not_a_field", "x", create=True) is None
    assert pages.load_page(path).meta["not_a_field"] == "x"


def test_set_fields_is_one_write_and_all_or_nothing(example_wiki):
    path = example_wiki / "wiki" / "experiments" / "digits-cnn-gpu.md"
    before = path.read_bytes()
    with pytest.raises(PageError):
        pages.set_fields(path, {"status": "running", "nope": 1})
    assert path.read_bytes() == before, "a failed multi-field edit must write nothing"
    olds = pages.set_fields(path, {"status": "running", "remote.gpu": "0", "started": "2026-11-25T10:00"})
    assert olds == {"status": "planned", "remote.gpu": "", "started": ""}
    meta = pages.load_page(path).meta
    assert (meta["status"], meta["remote"]["gpu"], meta["started"]) == ("running", "0", "2026-11-25T10:00")


def test_append_to_field(example_wiki):
    path = example_wiki / "wiki" / "experiments" / "digits-cnn-gpu.md"
    assert pages.append_to_field(path, "tags", "cnn") == ["classification", "gpu", "pytorch"]
    assert pages.load_page(path).meta["tags"] == ["classification", "gpu", "pytorch", "cnn"]


def test_missing_remote_block_is_a_clear_error(tmp_path):
    path = write(tmp_path / "p.md", "---\ntitle: t\nstatus: planned\n---\n")
    with pytest.raises(PageError) as excinfo:
        pages.set_field(path, "remote.server", "gpu-01")
    assert "'remote' is missing" in str(excinfo.value)
    assert str(path) in str(excinfo.value)


def test_crlf_page_on_disk_stays_crlf(example_wiki):
    path = example_wiki / "wiki" / "experiments" / "digits-cnn-gpu.md"
    text = path.read_bytes().decode().replace("\n", "\r\n")
    path.write_bytes(text.encode())
    pages.set_fields(path, {"status": "running", "remote.server": "gpu-01", "key_result": 'a "b": c # d'})
    pages.append_to_field(path, "tags", "x")
    pages.replace_sections(path, {"Results": "r1\nr2"})
    new = path.read_bytes().decode()
    assert "\n" not in new.replace("\r\n", "")
    page = pages.load_page(path)
    assert page.get("remote.server") == "gpu-01" and page.get("key_result") == 'a "b": c # d'
    assert len(changed(text, new)) == 5  # four frontmatter lines and the Results section


EDITS = {
    "status": "running",
    "key_result": 'Accuracy 0.97 ± 0.01: +1.2 pts over "baseline" # best',
    "run_log": "logs/exp-corpus.log",
    "remote.server": "gpu-01.lab",
}


def present_edits(meta: dict) -> dict:
    """The EDITS this page has fields for (remote.server only where a remote block exists)."""
    found = {}
    for field, value in EDITS.items():
        holder = meta
        *parents, leaf = field.split(".")
        for key in parents:
            holder = holder.get(key) if isinstance(holder, dict) else None
        if isinstance(holder, dict) and leaf in holder:
            found[field] = value
    return found


def test_corpus_page_edits_change_only_those_lines(corpus_page, tmp_path):
    text = corpus_page.read_bytes().decode("utf-8")
    path = write(tmp_path / corpus_page.name, text)
    original = meta_of(text)
    edits = present_edits(original)
    assert "status" in edits
    for field, value in edits.items():
        before_text = path.read_bytes().decode()
        before = meta_of(before_text)
        old = pages.set_field(path, field, value)
        after_text = path.read_bytes().decode()
        blocks = changed(before_text, after_text)
        assert len(blocks) == 1 and len(blocks[0][0]) == len(blocks[0][1]) == 1, blocks
        assert blocks[0][0][0].lstrip().startswith(field.rsplit(".", 1)[-1] + ":")
        after = meta_of(after_text)
        assert old == pages.Page(path, before, "", "").get(field)
        assert pages.Page(path, after, "", "").get(field) == value
        assert without(after, field) == without(before, field)
    final = pages.load_page(path)  # still parses with exprun's own reader
    assert final.body == pages.parse_page(text, path).body
    for field in set(original) - {f.split(".")[0] for f in edits}:
        assert final.meta[field] == original[field]
    if "remote" not in original:
        with pytest.raises(PageError, match="'remote' is missing"):
            pages.set_field(path, "remote.server", "gpu-01")
    assert stray_files(tmp_path, corpus_page.name) == []


def test_corpus_page_as_crlf_stays_crlf(corpus_page, tmp_path):
    text = corpus_page.read_bytes().decode("utf-8").replace("\n", "\r\n")
    path = write(tmp_path / corpus_page.name, text)
    edits = present_edits(meta_of(text))
    pages.set_fields(path, edits)
    new = path.read_bytes().decode()
    assert "\n" not in new.replace("\r\n", "")
    blocks = changed(text, new)
    assert sum(len(old) for old, _ in blocks) == sum(len(new) for _, new in blocks) == len(edits)
    page = pages.load_page(path)
    for field, value in edits.items():
        assert page.get(field) == value


def test_corpus_planned_and_completed_versions_both_edit_cleanly(corpus_pages, tmp_path):
    """Pages saved both planned (`@commit`) and completed: the completed page's values can be written into
    the planned one."""
    pairs = [(p, p.with_name(p.name.split("@")[0] + ".md")) for p in corpus_pages if "@" in p.name]
    if not pairs:
        pytest.skip("no before/after pairs in the corpus")
    for planned, completed in pairs:
        path = write(tmp_path / planned.name, planned.read_text(encoding="utf-8"))
        target = pages.load_page(completed).meta
        for field in ("status", "outcome", "key_result", "date_completed", "run_log"):
            if field in target and field in pages.load_page(path).meta:
                pages.set_field(path, field, target[field])
                assert pages.load_page(path).meta[field] == target[field]


# --------------------------------------------------------------------------- atomic writes


def test_atomic_write_keeps_mode_and_leaves_no_temp_files(tmp_path):
    path = write(tmp_path / "page.md", "---\ntitle: t\nstatus: planned\n---\n")
    os.chmod(path, 0o600)
    pages.set_field(path, "status", "running")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    atomic_write_text(tmp_path / "new.md", "x\r\ny\n")
    assert (tmp_path / "new.md").read_bytes() == b"x\r\ny\n"
    assert stat.S_IMODE((tmp_path / "new.md").stat().st_mode) == 0o644
    leftovers = sorted(p.name for p in tmp_path.iterdir())
    assert leftovers == [".page.md.lock", "new.md", "page.md"]


def test_many_files_are_each_replaced_whole_with_one_sweep_of_dead_writers_temps(tmp_path):
    """collect archives a thousand seed files this way: each lands whole, read-only when asked, again over the
    read-only copy of an interrupted collect; a dead writer's temp file goes, a live writer's stays."""
    from exprun.core.files import atomic_write_many

    sub = tmp_path / "results" / "arm"
    sub.mkdir(parents=True)
    (sub / "seed_1.json").write_bytes(b"old")
    os.chmod(sub / "seed_1.json", 0o444)
    dead = sub / ".seed_1.json.999999999.x.tmp"  # no such PID
    live = sub / f".seed_1.json.{os.getpid()}.y.tmp"
    dead.write_bytes(b"torn")
    live.write_bytes(b"being written")
    files = {tmp_path / "results" / "seed_0.json": b"zero", sub / "seed_1.json": b"one"}
    atomic_write_many(files, mode=0o444)
    assert [(p.read_bytes(), stat.S_IMODE(p.stat().st_mode)) for p in files] == [(b"zero", 0o444), (b"one", 0o444)]
    assert not dead.exists() and live.exists()
    assert sorted(p.name for p in sub.iterdir()) == [live.name, "seed_1.json"]


def test_unchanged_edit_does_not_rewrite(tmp_path):
    path = write(tmp_path / "page.md", "---\ntitle: t\nstatus: planned\n---\n")
    inode = path.stat().st_ino
    pages.set_field(path, "status", "planned")
    assert path.stat().st_ino == inode  # os.replace would give a new inode


def test_edit_through_symlinked_folder(tmp_path):
    real = tmp_path / "real"
    write(real / "page.md", "---\ntitle: t\nstatus: planned\n---\n")
    link = tmp_path / "link"
    link.symlink_to(real)
    pages.set_field(link / "page.md", "status", "running")
    assert pages.load_page(real / "page.md").status == "running"
    shutil.rmtree(real)


# --------------------------------------------------------------------------- links and lock files


def test_a_page_that_is_a_link_is_edited_through_it(tmp_path):
    """A page kept elsewhere and linked into wiki/experiments/: every edit reaches the target, the link stays."""
    target = write(
        tmp_path / "shared-pages" / "x.md", "---\ntitle: t\nstatus: planned\nnote: keep  # mine\n---\n\nbody\n"
    )
    link = tmp_path / "root" / "wiki" / "experiments" / "x.md"
    link.parent.mkdir(parents=True)
    link.symlink_to(target)
    pages.set_field(link, "status", "running")
    pages.replace_sections(link, {"Results": "r"})
    assert link.is_symlink() and os.readlink(link) == str(target)
    text = target.read_text()
    assert "status: running" in text and "note: keep  # mine" in text and "## Results\n\nr\n" in text


def test_locks_live_under_experiments_state_never_in_wiki(tmp_path):
    from exprun.wiki import wikilog

    page = write(tmp_path / "root" / "wiki" / "experiments" / "x.md", "---\ntitle: t\nstatus: planned\n---\n")
    pages.set_field(page, "status", "running")
    wikilog.append_log(tmp_path / "root" / "wiki", "exp-run | deployed x")
    inside = [p.relative_to(tmp_path).as_posix() for p in (tmp_path / "root" / "wiki").rglob("*") if p.is_file()]
    assert sorted(inside) == ["root/wiki/experiments/x.md", "root/wiki/log.md"]
    locks = sorted(p.name for p in (tmp_path / "root" / "experiments" / "state" / ".locks").iterdir())
    assert locks == ["wiki__experiments__x.md.lock", "wiki__log.md.lock"]
