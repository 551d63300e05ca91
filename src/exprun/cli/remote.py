"""`exprun remote <verb>` and `tools/remote.py <verb>`: the remote GPU server, JSON out.

Every verb reads config/server.yaml (--config before or after the verb; else config/server.yaml of
the wiki root --root, then of the folder above it), opens one SSH connection, does its steps over it
and prints {"status": "ok", ...} or {"status": "error", "message"} with exit 1. The answers carry the
wiki's own remote.py keys and exprun's. Where that tool answers a server it cannot reach with exit 0 — `status`
and `check` — so does exprun (`reachable: false` and the reason); every other verb is an error there, as there.
A refused host key or login is an error on every verb: the server answered, and the person has a fix to make.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from exprun.cli.output import json_verb

Action = Callable[..., dict]


def _dispatch(args: argparse.Namespace) -> int:
    """Load the server settings, open the one session, run the verb's steps on it."""
    from exprun.cli import remote_verbs as verbs
    from exprun.core.errors import UnreachableError
    from exprun.remote import server_config  # paramiko loads only for remote verbs
    from exprun.remote.session import RemoteSession

    def steps() -> dict:
        root = Path(args.root)
        server = server_config.load(server_config.config_path(root, args.config), root)
        if args.verb == "check":
            verbs.slug_of(args.name)  # a bad name is refused before any connection, as by the wiki's tool
        try:
            with RemoteSession(server) as session:
                return args.action(verbs, session, server, root, args)
        except UnreachableError as exc:
            if args.verb == "status":
                return verbs.unreachable(server, exc)
            if args.verb == "check":
                return verbs.check_unreachable(server, args.name, exc)
            raise

    return json_verb(steps)


# Each verb: (verbs module, session, server, wiki root, parsed arguments) -> the answer's fields.
ACTIONS: dict[str, Action] = {
    "status": lambda v, s, server, root, a: v.status(s, server),
    "gpu-status": lambda v, s, server, root, a: v.gpu_status(s, server),
    "sync-code": lambda v, s, server, root, a: v.sync_code(
        s, server, Path(a.local_path) if a.local_path else root, a.slug, a.expected_hash, dry_run=a.dry_run
    ),
    "setup-env": lambda v, s, server, root, a: v.setup_env(s, server, root, a.slug, a.force, a.requirements),
    "launch": lambda v, s, server, root, a: v.launch(
        s, server, root, a.name, a.cmd, a.gpu, a.expected_hash, a.log_file
    ),
    "check": lambda v, s, server, root, a: v.check(s, root, a.name, a.lines),
    "tail-log": lambda v, s, server, root, a: v.tail_log(s, a.name, a.lines),
    "pull-results": lambda v, s, server, root, a: v.pull_results(
        s, root, a.remote_path, a.local_path, a.include_weights
    ),
}


def add_common(parser: argparse.ArgumentParser, after_verb: bool = False) -> None:
    """--config and --root, accepted before the verb (as the wiki's remote.py) and after it."""
    keep: dict[str, Any] = {"default": argparse.SUPPRESS} if after_verb else {}
    parser.add_argument(
        "--config",
        **({"default": None} | keep),
        help="server settings (default: config/server.yaml in the wiki root, then in the folder above)",
    )
    parser.add_argument("--root", **({"default": "."} | keep), help="wiki root (default: .)")


def _verb(verbs: argparse._SubParsersAction, name: str, text: str) -> argparse.ArgumentParser:
    parser = verbs.add_parser(name, help=text)
    add_common(parser, after_verb=True)
    parser.set_defaults(handler=_dispatch, action=ACTIONS[name])
    return parser


def add_verbs(verbs: argparse._SubParsersAction) -> None:
    """The eight verbs, shared by `exprun remote` and tools/remote.py."""
    _verb(verbs, "status", "connect and report the server, work_dir and tools")
    _verb(verbs, "gpu-status", "GPUs on the server and which are free")

    p = _verb(verbs, "sync-code", "upload experiment code (incremental, atomic) and verify its hash")
    p.add_argument("--slug", help="one experiment (default: every folder of experiments/code/)")
    p.add_argument("--local-path", help="the local wiki root to sync from (default: --root)")
    p.add_argument("--dry-run", action="store_true", help="say what would be uploaded, change nothing")
    p.add_argument("--expected-hash", help="approved code hash to require (default: the local code's hash)")

    p = _verb(verbs, "setup-env", "pip install -r requirements.txt when it changed")
    p.add_argument("--slug", help="experiment whose requirements.txt to install (default: the root's)")
    p.add_argument("--force", action="store_true", help="install even when unchanged")
    p.add_argument(
        "--requirements",
        help="a requirements file here (relative to the wiki root), uploaded to the same "
        "place under work_dir and installed",
    )

    p = _verb(verbs, "launch", "start a command detached under screen on the server")
    p.add_argument("--name", required=True, help="session name, exp-<slug>")
    p.add_argument("--cmd", required=True, help="the command as one string, e.g. 'bash experiments/code/x/run.sh'")
    p.add_argument("--gpu", help="CUDA_VISIBLE_DEVICES, e.g. 0 or 0,1")
    p.add_argument(
        "--expected-hash", help="approved code hash to require (default: the local code's hash, when present)"
    )
    p.add_argument("--log-file", help="log path under work_dir (default: logs/<name>.log)")

    for name, text, lines in (
        ("check", "running / exited / lost, progress and anomalies", 20),
        ("tail-log", "last lines of the run's log (or of its screen window)", 50),
    ):
        p = _verb(verbs, name, text)
        p.add_argument("--name", required=True, help="session name, exp-<slug>")
        p.add_argument("--lines", type=int, default=lines, help=f"lines of log to show (default {lines})")

    p = _verb(verbs, "pull-results", "download a remote folder or file (resumable)")
    p.add_argument("--remote-path", required=True, help="relative to work_dir, e.g. results/<slug>/")
    p.add_argument("--local-path", required=True, help="relative to the wiki root, e.g. ./results/<slug>/")
    p.add_argument("--include-weights", action="store_true", help="also *.pt *.pth *.ckpt *.safetensors *.bin")


def add_parser(groups: argparse._SubParsersAction) -> None:
    """`exprun remote <verb>`."""
    parser = groups.add_parser("remote", help="the remote GPU server (config/server.yaml)")
    add_common(parser)
    add_verbs(parser.add_subparsers(dest="verb", required=True))


def main(argv: list[str] | None = None) -> int:
    """tools/remote.py <verb>: the same verbs without the `remote` group word."""
    parser = argparse.ArgumentParser(prog="tools/remote.py", description="The remote GPU server, JSON out.")
    add_common(parser)
    add_verbs(parser.add_subparsers(dest="verb", required=True))
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
