"""Who writes the code: an OpenAI-compatible LLM, a coding agent on the command line, or the built-in
recipes. The first two can also fix code (after a review, after a failed sanity run); the recipes cannot.

A generator only proposes files; codegen.writer decides what is written (inside the folder, never over a
person's edit).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from exprun.core import chat
from exprun.core.errors import ExprunError
from exprun.core.settings import Settings
from exprun.prepare.codegen import prompt, reply
from exprun.prepare.codegen.program import program_name

OUTPUT_TAIL_LINES = 40


@dataclass
class Proposal:
    files: dict[str, str]
    notes: str


@dataclass
class Request:
    """One round: what to do, the prompt, the context file and where the code lives."""

    round: str
    prompt: str
    prompt_file: Path
    context_file: Path
    folder: Path


class Llm:
    can_fix = True

    def __init__(self, settings: Settings) -> None:
        cfg = settings.codegen.llm
        self.endpoint = chat.Endpoint(
            cfg.base_url, cfg.model, cfg.api_key_env, cfg.timeout_s, cfg.temperature, cfg.max_tokens
        )
        self.name = f"llm {cfg.model}"

    def propose(self, request: Request) -> Proposal:
        text = chat.complete(self.endpoint, prompt.SYSTEM, request.prompt, json_reply=True)
        files, notes = reply.parse(text, f"codegen.llm reply from {self.endpoint.url}")
        return Proposal(files, notes)


class Command:
    """A coding agent run on a working copy of the folder; what it changed there is the proposal.

    The agent runs inside that copy, so every path it is given is absolute: a `{prompt}` relative to the
    wiki root (where Snakemake runs) would name nothing from there.
    """

    can_fix = True

    def __init__(self, settings: Settings) -> None:
        self.command = list(settings.codegen.command)
        self.timeout_s = settings.codegen.timeout_s
        self.name = program_name(self.command)

    def propose(self, request: Request) -> Proposal:
        with tempfile.TemporaryDirectory(prefix="exprun-agent-") as scratch:
            work = Path(scratch) / request.folder.name
            shutil.copytree(request.folder, work, symlinks=True, ignore=shutil.ignore_patterns(".*"))
            before = _snapshot(work)
            values = {
                "prompt": str(Path(request.prompt_file).resolve()),
                "context": str(Path(request.context_file).resolve()),
                "target": str(work.resolve()),
                "round": request.round,
            }
            argv = [_fill(arg, values) for arg in self.command]
            output = self._run(argv, work, values)
            links = [str(p.relative_to(work)) for p in work.rglob("*") if p.is_symlink() and not _hidden(p, work)]
            if links:
                raise ExprunError(
                    f"codegen.command {self.name}: refused — it made links ({', '.join(links)}); "
                    "files only; nothing was written"
                )
            after = _snapshot(work)
        changed = {rel: text for rel, text in after.items() if before.get(rel) != text and text is not None}
        notes = "\n".join(output.strip().splitlines()[-OUTPUT_TAIL_LINES:])
        binary = sorted(rel for rel, text in after.items() if text is None and rel not in before)
        if binary:
            notes += f"\n[exprun] not taken (not UTF-8 text; data belongs under the dataset path): {', '.join(binary)}"
        return Proposal(changed, notes)

    def _run(self, argv: list[str], work: Path, values: dict[str, str]) -> str:
        try:
            done = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=self.timeout_s,
                cwd=work,
                env={**os.environ, **{f"EXPRUN_{key.upper()}": value for key, value in values.items()}},
            )
        except FileNotFoundError:
            raise ExprunError(
                f"codegen.command: program '{argv[0]}' not found (fix codegen.command in config/config.yaml)"
            ) from None
        except subprocess.TimeoutExpired:
            raise ExprunError(
                f"codegen.command {self.name}: no answer within codegen.timeout_s={self.timeout_s:g} s; "
                "nothing was written"
            ) from None
        output = done.stdout + done.stderr
        if done.returncode != 0:
            tail = "\n".join(output.strip().splitlines()[-20:])
            said = f"; the end of its output:\n{tail}" if tail else " and printed nothing"
            raise ExprunError(f"codegen.command {self.name} exited with {done.returncode} ({json.dumps(argv)}){said}")
        return output


def _fill(arg: str, values: dict[str, str]) -> str:
    """Only the four placeholders are replaced: any other brace (a shell `${HOME}`, JSON) stays as written."""
    for key, value in values.items():
        arg = arg.replace("{" + key + "}", value)
    return arg


def _hidden(path: Path, top: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(top).parts)


def _snapshot(folder: Path) -> dict[str, str | None]:
    """Text of every regular file under folder (hidden ones skipped; None for a file that is not UTF-8)."""
    found: dict[str, str | None] = {}
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink() and not _hidden(path, folder):
            try:
                found[path.relative_to(folder).as_posix()] = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                found[path.relative_to(folder).as_posix()] = None
    return found


def for_settings(settings: Settings):
    """The configured generator that can write and fix code; None for the built-in recipes."""
    kind = settings.codegen.generator
    if kind == "llm":
        return Llm(settings)
    if kind == "command":
        return Command(settings)
    return None
