"""Slug validation and the wiki's title-to-slug rule.

A slug ends up in file names, screen session names and shell commands, so it is
checked against one strict pattern before it touches any of them.
"""

import re

from exprun.core.errors import SlugError

SLUG_PATTERN = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
MAX_SLUG_LENGTH = 100

# Words the wiki's own tool (research_wiki.py slug) drops when it turns a title into a slug: the same
# list, so a title gives the same slug whichever tool an agent calls.
STOP_WORDS = frozenset(
    "a an the of for in on with via and to by is are from that this its at as or be it not but we "
    "can do has have was were been our".split()
)


def validate_slug(slug: str) -> str:
    """Return the slug unchanged, or raise SlugError naming the rule it broke."""
    # fullmatch: with match, `$` also accepts a trailing newline ("abc\n")
    if not isinstance(slug, str) or not SLUG_PATTERN.fullmatch(slug) or len(slug) > MAX_SLUG_LENGTH:
        raise SlugError(
            f"invalid slug {slug!r}: use lower-case letters, digits and single hyphens "
            f"(pattern {SLUG_PATTERN.pattern}, at most {MAX_SLUG_LENGTH} characters)"
        )
    return slug


def slugify(title: str, max_words: int = 6) -> str:
    """The wiki's slug for a title: lower-case words of letters and digits, stop words and one-letter words
    dropped (all words kept when that leaves none), the first six, joined with hyphens."""
    words = re.sub(r"[^a-z0-9\s]", " ", title.lower()).split()
    kept = [w for w in words if w not in STOP_WORDS and len(w) > 1] or words
    slug = "-".join(kept[:max_words])[:MAX_SLUG_LENGTH].strip("-")
    return slug or "untitled"
