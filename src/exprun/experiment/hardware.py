"""How many GPUs an experiment asks for: read from the words people write in a page's `setup.hardware`
("2 × A100 80GB", "8 GPUs", "CPU only") or stated in config.yaml's `hardware` (`cpu` or a count).

The page's field is free text written for people, so the count is read only where a number is tied to a GPU
("4x A100", "2×H100", "8 GPUs", "A100 ×2", "two A100s"); any other number ("80GB", "RTX 4090", "2048 envs")
is not a count. A GPU named without a count is one GPU. Where a page names several groups ("2 × A100 (inference)
+ 1 × A100 MD node") the largest is the count: one run is planned on the biggest of them, and a person who
means the sum says so in config.yaml.
"""

from __future__ import annotations

import re

from exprun.core.errors import ConfigError

# A GPU named in free text: the generic words and the cards people write in research pages.
GPU_NAME = (
    r"gpus?|cuda|a100s?|h100s?|h200s?|h800s?|b200s?|v100s?|p100s?|a6000s?|a40s?|a10g?s?|l40s?|l4s?|t4s?|rtx|"
    r"mi\d{3}x?s?"
)
GPU_WORDS = re.compile(rf"\b({GPU_NAME})\b", re.I)
NO_HARDWARE = {"", "cpu", "none", "no", "n/a", "-"}
NO_GPU_WORDS = re.compile(
    r"^\s*cpu\b|\b(no|0|zero) (new |extra )?gpus?\b|\bwithout (a )?gpu\b|\bgpu (is )?not (needed|required)\b", re.I
)
NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "six": 6, "eight": 8, "sixteen": 16}
_N = r"(\d+|" + "|".join(NUMBER_WORDS) + ")"
_VENDOR = r"(?:nvidia\s+|amd\s+)?"
COUNTS = (
    re.compile(rf"\b{_N}\s*[x×*]\s*{_VENDOR}({GPU_NAME})\b", re.I),  # 4x A100, 2×H100, 2 x NVIDIA A100
    re.compile(rf"\b{_N}[\s-]+{_VENDOR}({GPU_NAME})\b", re.I),  # 8 GPUs, 8-GPU node, two A100s
    re.compile(rf"\b({GPU_NAME})\s*[x×*]\s*{_N}\b", re.I),  # A100 ×4
)
CPU = "cpu"


def gpus_asked(hardware: object) -> int:
    """GPUs a page's `setup.hardware` asks for: 0 when it names none (cpu, none, empty, "no GPU"), the stated count
    when a number is tied to a GPU, else 1."""
    text = str(hardware or "").strip()
    if text.lower() in NO_HARDWARE or NO_GPU_WORDS.search(text) or not GPU_WORDS.search(text):
        return 0
    counts = [_number(match) for pattern in COUNTS for match in pattern.finditer(text)]
    return max([c for c in counts if c > 0], default=1)


def _number(match: re.Match) -> int:
    word = next(g for g in match.groups() if g and (g.isdigit() or g.lower() in NUMBER_WORDS))
    return int(word) if word.isdigit() else NUMBER_WORDS[word.lower()]


def declared(value: object, source: str = "config.yaml") -> int | None:
    """config.yaml `hardware`: None when not given (the page's plan holds), 0 for `cpu`, else the GPU count.
    Anything else is a ConfigError naming the file and the two forms it may take."""
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lower() == CPU:
        return 0
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise ConfigError(
        f"{source}: `hardware: {value}` is not understood; write `hardware: cpu` (the code runs on a CPU) or the "
        "number of GPUs one run needs, e.g. `hardware: 2` (or leave it out to follow the page's setup.hardware)"
    )


def describe(count: int) -> str:
    """A count as a person writes it: `cpu`, `1 GPU`, `4 GPUs`."""
    return CPU if count == 0 else f"{count} GPU{'s' if count > 1 else ''}"
