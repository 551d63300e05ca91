"""What code generation reads, the wiki's way: the page, its idea (approach sketch, `## Hypothesis`), the methods
it evaluates (`evaluates_methods` → wiki/methods/), the papers reached from the page, the idea and those methods'
`source_papers`, and sibling experiments on the same idea.

Collected once into a plain dict, written as `context.json` for an external
generator, put into the generator's prompt, and summarised in CONTEXT.md so the
reviewer sees what was used and how each paper was reached.
"""

from __future__ import annotations

import re
from pathlib import Path

from exprun.core.errors import ExprunError, PageError
from exprun.core.paths import Paths
from exprun.wiki import links, pages, sections

METHOD_SECTIONS = r"method|approach|algorithm|model"
HYPERPARAMETER_SECTIONS = r"hyper-?param|training details|implementation details|experimental setup|settings"
MAX_SECTION_CHARS = 6000
MAX_SIBLINGS = 12
MAX_METHODS = 12


def _load_optional(path: Path) -> pages.Page | None:
    try:
        return pages.load_page(path, required=())
    except PageError:
        return None


def gather(page: pages.Page, root: Path = Path(".")) -> dict:
    """Idea, methods, papers and siblings for a page; missing pieces are simply absent."""
    wiki = Path(root) / "wiki"
    idea_slug = links.one(page.get("linked_idea"))
    idea = _load_optional(wiki / "ideas" / f"{idea_slug}.md") if idea_slug else None
    methods = _methods(page, wiki)
    reached: dict[str, str] = {}  # paper slug -> how it was reached, first way first
    for slug in links.in_text(page.text):
        reached.setdefault(slug, "the page")
    if idea is not None:
        for slug in links.in_text(idea.text) + links.in_field(idea.get("linked_papers")):
            reached.setdefault(slug, f"idea [[{idea_slug}]]")
    for method in methods:
        for slug in method["source_papers"]:
            reached.setdefault(slug, f"method [[{method['slug']}]]")
    papers = []
    for slug, via in reached.items():
        paper = _load_optional(wiki / "papers" / f"{slug}.md")
        if paper is not None:
            papers.append(
                {
                    "slug": slug,
                    "title": paper.get("title", slug),
                    "via": via,
                    "method": sections.read_matching(paper.body, METHOD_SECTIONS)[:MAX_SECTION_CHARS],
                    "hyperparameters": sections.read_matching(paper.body, HYPERPARAMETER_SECTIONS)[:MAX_SECTION_CHARS],
                }
            )
    siblings: list[dict] = []
    for path in pages.experiment_pages(root) if idea_slug else []:
        if path.stem == page.path.stem or not _links_idea(path, idea_slug):
            continue  # most pages are on other ideas: a look at one frontmatter line spares parsing them
        other = _load_optional(path)
        if other is None:
            continue
        if links.one(other.get("linked_idea")) == idea_slug and len(siblings) < MAX_SIBLINGS:
            siblings.append(
                {
                    "slug": other.slug,
                    "title": other.get("title"),
                    "status": other.status,
                    "setup": other.get("setup") or {},
                    "baseline": other.get("baseline"),
                    "outcome": other.get("outcome") or "",
                    "key_result": other.get("key_result") or "",
                    "config": _generated_config(other.path.stem, root),
                }
            )
    return {
        "experiment": {
            "slug": page.slug,
            "title": page.get("title"),
            "hypothesis": page.get("hypothesis"),
            "setup": page.get("setup") or {},
            "metrics": page.get("metrics") or [],
            "baseline": page.get("baseline"),
            "body": page.body,
        },
        "idea": None
        if idea is None
        else {
            "slug": idea_slug,
            "title": idea.get("title"),
            "approach_sketch": sections.read_section(idea.body, "Approach sketch") or "",
            "hypothesis": _idea_hypothesis(idea),
        },
        "methods": methods,
        "papers": papers,
        "siblings": siblings,
    }


def _methods(page: pages.Page, wiki: Path) -> list[dict]:
    """The method pages the experiment evaluates (wiki/methods/<slug>.md), with the sections that say how the
    method works and the papers it comes from."""
    found = []
    for slug in links.in_field(page.get("evaluates_methods"))[:MAX_METHODS]:
        method = _load_optional(wiki / "methods" / f"{slug}.md")
        if method is None:
            continue
        found.append(
            {
                "slug": slug,
                "name": str(method.get("name") or method.get("title") or slug),
                "mechanism": (sections.read_section(method.body, "Mechanism") or "")[:MAX_SECTION_CHARS],
                "procedure": (sections.read_section(method.body, "Procedure") or "")[:MAX_SECTION_CHARS],
                "source_papers": links.in_field(method.get("source_papers")),
            }
        )
    return found


def _idea_hypothesis(idea: pages.Page) -> str:
    """The idea's `## Hypothesis` section (the wiki's template), else a `hypothesis` frontmatter field."""
    return (sections.read_section(idea.body, "Hypothesis") or "").strip() or str(idea.get("hypothesis") or "").strip()


def _links_idea(path: Path, idea_slug: str) -> bool:
    """Whether the page's frontmatter may name this idea, bare or as a wikilink (a cheap pre-check; the parse
    decides)."""
    try:
        head = path.read_text(encoding="utf-8", errors="replace").split("\n---", 1)[0]
    except OSError:
        return False
    pattern = rf"^linked_idea:\s*[\"']?(?:\[\[)?\s*{re.escape(idea_slug)}\b"
    return re.search(pattern, head, re.M) is not None


def _generated_config(slug: str, root: Path) -> str:
    """A sibling's config.yaml as exprun generated it (its hyperparameters are a tested starting point)."""
    try:
        return (Paths(slug, root).code_dir / "config.yaml").read_text(encoding="utf-8")[:MAX_SECTION_CHARS]
    except (OSError, ValueError, ExprunError):
        return ""


def render_markdown(context: dict, notes: list[str]) -> str:
    """CONTEXT.md: what the generator read and what it could not map."""
    exp = context["experiment"]
    lines = [
        f"# Context for {exp['slug']}",
        "",
        f"**{exp['title']}**",
        "",
        f"Hypothesis: {str(exp['hypothesis'] or '').strip()}",
        "",
    ]
    lines += ["## Setup (from the page)", ""] + [f"- {k}: {v}" for k, v in exp["setup"].items()] + [""]
    idea = context["idea"]
    lines += ["## Linked idea", ""]
    if idea:
        lines += [
            f"[[{idea['slug']}]] {idea['title']}",
            "",
            idea["approach_sketch"] or "(no `## Approach sketch` section)",
            "",
        ]
    else:
        lines += ["(none found)", ""]
    methods = context.get("methods") or []
    lines += (
        ["## Methods evaluated", ""] + ([f"- [[{m['slug']}]] {m['name']}" for m in methods] or ["(none found)"]) + [""]
    )
    lines += (
        ["## Papers read", ""]
        + (
            [f"- [[{p['slug']}]] {p['title']} (via {p.get('via', 'the page')})" for p in context["papers"]]
            or ["(none)"]
        )
        + [""]
    )
    lines += ["## Sibling experiments (same idea)", ""]
    lines += [f"- {s['slug']} ({s['status']}) {s['key_result']}".rstrip() for s in context["siblings"]] or ["(none)"]
    lines += ["", "## For the reviewer", ""] + (
        [f"- {n}" for n in notes] or ["- everything on the page mapped onto the recipe"]
    )
    return "\n".join(lines) + "\n"
