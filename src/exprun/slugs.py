"""Slug validation and the wiki's title-to-slug rule.

A slug ends up in file names, screen session names and shell commands, so it is
checked against one strict pattern before it touches any of them.
"""

import re

from .errors import SlugError

SLUG_PATTERN = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
MAX_SLUG_LENGTH = 100

# Words the wiki drops when it turns a title into a slug.
STOP_WORDS = frozenset(
    "a an and are as at be by for from in into is it of on or the to vs via with without".split()
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
    """Turn a page title into the wiki's slug: first words, stop words dropped."""
    words = re.split(r"[^a-z0-9]+", title.lower())
    kept = [w[:MAX_SLUG_LENGTH] for w in words if len(w) > 1 and w not in STOP_WORDS]
    slug = "-".join(kept[:max_words])[:MAX_SLUG_LENGTH].strip("-")
    return slug or "untitled"
