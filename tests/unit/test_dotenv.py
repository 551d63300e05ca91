"""The wiki root's .env read as people write it: comments, `export `, quotes, inline comments; a bad line is
one error naming file and line, never the value (it may be a key)."""

from __future__ import annotations

import pytest

from exprun.core import dotenv
from exprun.core.errors import ConfigError

TEXT = """\ufeff# Review LLM (optional)
LLM_API_KEY=sk-plain-123
export LLM_BASE_URL = "https://api.example.org/v1"   # the provider
  LLM_MODEL='deepseek chat # not a comment'
EMPTY=
SPACED=  two words  # a comment
HASH=abc#def
ESCAPED="line\\nnext \\"quoted\\" back\\\\slash"
SINGLE='kept \\n as written'
# LLM_FALLBACK_MODEL=commented-out
LLM_MODEL_LATER=x
LLM_API_KEY=sk-later-wins
"""


def test_the_forms_people_write(tmp_path):
    path = tmp_path / ".env"
    path.write_text(TEXT, encoding="utf-8")
    found = dotenv.read(path)
    assert found["LLM_API_KEY"] == "sk-later-wins"  # a later line wins, as when a shell sources the file
    assert found["LLM_BASE_URL"] == "https://api.example.org/v1"
    assert found["LLM_MODEL"] == "deepseek chat # not a comment"
    assert (found["EMPTY"], found["SPACED"], found["HASH"]) == ("", "two words", "abc#def")
    assert found["ESCAPED"] == 'line\nnext "quoted" back\\slash'
    assert found["SINGLE"] == "kept \\n as written"
    assert "LLM_FALLBACK_MODEL" not in found and "# LLM_FALLBACK_MODEL" not in found


@pytest.mark.parametrize(
    "line, words",
    [
        ("LLM_API_KEY sk-secret-value", "not a KEY=value line"),
        ('LLM_API_KEY="sk-secret-value', "never closed"),
        ("LLM_API_KEY='sk-secret-value' trailing", "text after the closing quote"),
        ("1BAD=sk-secret-value", "not a KEY=value line"),
    ],
)
def test_a_bad_line_names_file_and_line_not_the_value(tmp_path, line, words):
    path = tmp_path / ".env"
    path.write_text(f"# first\nOK=1\n{line}\n")
    with pytest.raises(ConfigError) as caught:
        dotenv.read(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:3: ") and words in message and "sk-secret" not in message
