"""config/server.yaml: read, validate against the schema (which carries the defaults), type.

Errors are one line naming the file and the field, like every other exprun
setting, so a person fixes the file without reading a traceback.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import jsonschema
import yaml

from exprun.core import resources
from exprun.core.config import fill_defaults, read_yaml
from exprun.core.errors import ConfigError
from exprun.remote import ssh_options
from exprun.remote.ssh_options import SshOptions

SCHEMA_PATH = resources.data_file("server.schema.yaml")
EXAMPLE_PATH = resources.workflow_dir() / "config" / "server.example.yaml"
DEFAULT_PATH = Path("config") / "server.yaml"


@dataclass
class ServerConfig:
    """The validated server settings: `port`, `user`, `proxy_jump` and `identity_files` as they take effect (the
    top-level keys and their ssh_options spellings joined); `port_given` says the file chose the port (else
    ~/.ssh/config's Port for the host applies, as it does for the wiki's remote.py)."""

    source: str
    host: str
    user: str
    work_dir: str
    port: int = 22
    port_given: bool = False
    identity_files: tuple[Path, ...] = ()
    known_hosts: Path | None = None
    proxy_jump: str = ""
    ssh_options: dict = field(default_factory=dict)
    ssh: SshOptions = field(default_factory=SshOptions)
    gpus: str = ""
    free_gpu_threshold_mib: int = 500
    conda: dict | None = None
    env_setup: str | None = None
    sync_include: list[str] = field(default_factory=list)
    sync_exclude: list[str] = field(default_factory=list)
    trust_new_host_keys: bool = False

    @property
    def connect_timeout(self) -> float:
        return self.ssh.connect_timeout

    @property
    def trusts_new_keys(self) -> bool:
        """Save a never-seen host key: trust_new_host_keys, or StrictHostKeyChecking accept-new/no in ssh_options
        (a CHANGED key is refused either way)."""
        return self.trust_new_host_keys or self.ssh.strict_host_key_checking == "accept-new"


def schema() -> dict:
    return yaml.safe_load(SCHEMA_PATH.read_text(encoding="utf-8"))


def config_path(root: Path, given: str | None) -> Path:
    """--config as given (relative: from the wiki root); else config/server.yaml of the wiki root, then of the
    folder above it (where the wiki's own remote.py also looks)."""
    if given:
        return Path(given) if Path(given).is_absolute() else Path(root) / given
    here = Path(root) / DEFAULT_PATH
    above = Path(root) / ".." / DEFAULT_PATH
    return above if not here.exists() and above.exists() else here


def of_wiki(root: Path) -> ServerConfig:
    """The wiki root's server (config/server.yaml there, or in the folder above)."""
    return load(config_path(root, None), root)


def load(path: Path, root: Path = Path(".")) -> ServerConfig:
    """Read and check config/server.yaml; relative key/known_hosts paths are from the wiki root."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: not found; copy {EXAMPLE_PATH} there and set host, user and work_dir")
    raw = read_yaml(path)
    settings = validate(raw, str(path))
    ssh = ssh_options.parse(settings["ssh_options"], str(path), Path(root))
    identity = _local_path(settings.get("identity_file"), root)
    return ServerConfig(
        source=str(path),
        host=settings["host"],
        user=_one(settings["user"], ssh.user, "user", "User", str(path)),
        work_dir=settings["work_dir"],
        port=ssh.port or settings["port"],
        port_given=_port_chosen(raw, ssh, str(path)) or ssh.port is not None,
        identity_files=((identity,) if identity else ()) + ssh.identity_files,
        known_hosts=_local_path(settings.get("known_hosts"), root),
        proxy_jump=_one(settings.get("proxy_jump", ""), ssh.proxy_jump, "proxy_jump", "ProxyJump", str(path)),
        ssh_options=settings["ssh_options"],
        ssh=ssh,
        gpus=settings["gpus"],
        free_gpu_threshold_mib=settings["free_gpu_threshold_mib"],
        conda=settings.get("conda"),
        env_setup=settings.get("env_setup"),
        sync_include=settings["sync"]["include"],
        sync_exclude=settings["sync"]["exclude"],
        trust_new_host_keys=_trust(settings["trust_new_host_keys"], ssh, str(path)),
    )


def _one(top: str, option: str | None, key: str, name: str, source: str) -> str:
    """A setting written both as a top-level key and in ssh_options: one value, or a one-line refusal (ssh would
    quietly take one of the two, which is rarely the one the person meant)."""
    if option is None or option == top:
        return top
    if top:
        raise ConfigError(
            f"{source}: field 'ssh_options.{name}': {option!r} differs from {key}: {top!r}; keep one of them"
        )
    return option


def _port_chosen(raw: dict, ssh: SshOptions, source: str) -> bool:
    """The file's own port counts only when it is not 22: the wiki's remote.py passes `-p` only then, so
    ~/.ssh/config's Port (or ssh_options Port) decides otherwise."""
    chosen = raw.get("port", 22) != 22
    if chosen and ssh.port is not None and ssh.port != raw["port"]:
        raise ConfigError(
            f"{source}: field 'ssh_options.Port': {ssh.port} differs from port: {raw['port']}; keep one of them"
        )
    return chosen


def _trust(trust_new: bool, ssh: SshOptions, source: str) -> bool:
    if trust_new and ssh.strict_given and ssh.strict_host_key_checking == "yes":
        raise ConfigError(
            f"{source}: trust_new_host_keys: true contradicts ssh_options StrictHostKeyChecking (yes/ask: refuse "
            "unknown keys); keep one of them"
        )
    return trust_new


def validate(raw: dict, source: str) -> dict:
    """Defaults filled, schema checked, then the rules a schema states badly (one env, safe globs)."""
    settings, rules = copy.deepcopy(raw), schema()
    fill_defaults(rules, settings)
    try:
        jsonschema.validate(settings, rules)
    except jsonschema.ValidationError as exc:
        where = ".".join(str(p) for p in exc.absolute_path) or "(top level)"
        raise ConfigError(f"{source}: field '{where}': {exc.message} (see {EXAMPLE_PATH.name})") from None
    if "conda" in raw and "env_setup" in raw:
        raise ConfigError(f"{source}: set at most one of 'conda' (path, env) or 'env_setup' (shell lines); found both")
    for pattern in settings["sync"]["include"]:
        if ".." in PurePosixPath(pattern).parts:
            raise ConfigError(f"{source}: field 'sync.include': {pattern!r} must stay inside the wiki root (no '..')")
    return settings


def _local_path(value: str | None, root: Path) -> Path | None:
    if not value:
        return None
    path = Path(value).expanduser()
    return path if path.is_absolute() else Path(root).resolve() / path
