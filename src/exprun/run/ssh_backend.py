"""Backend `ssh`: runs on the remote server of config/server.yaml under screen, over one held SSH session.

Launching opens its own connection and does everything over it: reachable? → free GPU →
sync + verify the approved hash → setup-env → the guarded launch. Answering (state, tail,
stop) uses the session a LauncherPool holds for every run on that host.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from exprun.core.errors import LaunchError, PageError, RemoteError
from exprun.core.paths import Paths
from exprun.logs.logtail import task_share, with_task_tails
from exprun.machines import env_needs
from exprun.machines.launchers import ssh
from exprun.machines.launchers.base import RunRecord, RunSpec, RunState, runs_tasks_in_parallel, task_log_paths
from exprun.prepare.gpu_plan import gpu_plan, memory_need
from exprun.run.backends import Backend, Launcher, LaunchRequest, parallel_tasks


class RemoteScreen(Launcher):
    backend = Backend.SSH
    supports_task_reruns = True
    runs_tasks_in_order = True
    code_is_here = False  # the server runs its synced copy of the snapshot (verified by hash, and by the guard there)
    sanity_place = "remote"

    def require_page(self, page) -> None:
        """The nested remote: fields are edited in place; a page without the block does not follow the template."""
        block = page.meta.get("remote")
        if not isinstance(block, dict) or not {"server", "gpu", "session", "started", "completed"} <= set(block):
            raise PageError(
                f"{page.path}: no complete `remote:` block (server, gpu, session, started, completed); "
                "the page does not follow the experiment template — "
                "add the block as /exp-design writes it, then deploy again"
            )

    def page_fields(self, record: RunRecord, started: str) -> dict:
        """One GPU as a number: the wiki's research_wiki.py set-meta rewrites a quoted "0" as 0, so the number is
        what reads the same after the wiki's next edit (several stay the text "0,1")."""
        gpus = record.gpu_ids
        return {
            "remote.server": record.host,
            "remote.gpu": gpus[0] if len(gpus) == 1 else ",".join(map(str, gpus)),
            "remote.session": record.session,
            "remote.started": started,
        }

    def where(self, record: RunRecord) -> str:
        return f"env: remote | server: {record.host} | gpu: {','.join(map(str, record.gpu_ids)) or 'none'}"

    def label(self, record: RunRecord, state: RunState) -> str:
        return f"remote ({record.host})"

    def completed_fields(self, record: RunRecord, completed: str) -> dict:
        return {"remote.completed": completed}

    def __init__(self, root: Path, session=None):
        super().__init__(root)
        self.session = session
        self._expected: dict[str, RunRecord] = {}
        self._seen: dict[str, tuple[RunState, float | None]] = {}

    def _launch(self, request: LaunchRequest) -> RunRecord:
        from exprun.machines import remote_gpus as gpus  # paramiko only for remote runs
        from exprun.remote import envsetup, server_config, sync  # paramiko only for remote runs
        from exprun.remote.session import RemoteSession

        server = server_config.of_wiki(self.root)
        with RemoteSession(server) as session:
            gpu, slots = "", None
            code_dir = Paths(request.slug, self.root).code_dir
            needed_env = env_needs.check_remote(env_needs.scan(code_dir, request.config), session, server)
            env_needs.require(needed_env, request.slug, remote=True)
            plan = gpu_plan(request.page, code_dir, request.settings.gpu.count)
            need = (
                memory_need(request.slug, self.root, request.approved_hash, request.settings.gpu.memory_margin_mib)
                if plan.needed
                else None
            )
            view = gpus.query(session) if plan.needed else None
            free = view.free(server.free_gpu_threshold_mib, need) if view else []
            parallel = parallel_tasks(request, plan, lambda: len(free))
            if plan.needed:
                if len(free) < plan.count * parallel:
                    assert view is not None  # queried above, as the plan needs a GPU
                    shortage = view.shortage(plan.count * parallel, len(free), server.free_gpu_threshold_mib, need)
                    raise LaunchError(
                        f"{server.host}: {shortage}; wait for one to free up"
                        f"{', lower batch_size and rerun the sanity step' if need else ''}, "
                        "or choose another server in config/server.yaml"
                    )
                chosen = [g.index for g in free[: plan.count * parallel]]
                gpu = ",".join(map(str, chosen))
                slots = [chosen[i * plan.count : (i + 1) * plan.count] for i in range(parallel)]
            sync.send_snapshot(session, self.root, request.snapshot, request.approved_hash, server)
            envsetup.setup_env(session, server, request.slug, requirements_file=f"{request.snapshot}/requirements.txt")
            # a page that needs no GPU gets none: its code must not take a card nobody claimed for it
            env = {
                **request.run_env(session.work_dir),
                "CUDA_VISIBLE_DEVICES": gpu,
                **request.task_env(parallel, slots),
            }
            command = envsetup.wrap(request.command("python3"), server, session)
            return ssh.launch(
                ssh.run_spec(request.slug, command, session.work_dir, env),
                session,
                gpu_ids=[int(i) for i in gpu.split(",")] if gpu else [],
                approved_hash=request.approved_hash,
                run_id=request.run_id,
            )

    def describe(self, record: RunRecord) -> str:
        return f"remote ({record.host}{self.gpu_text(record)})"

    def _held(self):
        if self.session is None:
            raise RemoteError("a remote run is answered over a held connection: open it through LauncherPool")
        return self.session

    def expect(self, record: RunRecord) -> None:
        self._expected[record.slug] = record

    def _snapshot(self, record: RunRecord) -> tuple[RunState, float | None]:
        if record.slug not in self._seen:
            self._expected[record.slug] = record
            self._seen.update(ssh.snapshot(list(self._expected.values()), self._held()))
            self._expected.clear()
        return self._seen[record.slug]

    def state(self, record: RunRecord) -> RunState:
        return self._snapshot(record)[0]

    def tail(self, record: RunRecord, start: int) -> str:
        """The run's log on the server; with tasks in parallel, each task's own log too (as LocalScreen)."""
        text = ssh.tail(record, self._held(), start=start)
        return with_task_tails(text, self.task_log_tails(record)) if runs_tasks_in_parallel(record) else text

    def task_log_tails(self, record: RunRecord) -> dict[str, str]:
        session, logs = self._held(), task_log_paths(record)
        tails = {
            task: ssh.read_tail(session, PurePosixPath(ssh.on_server(session, log)), task_share(len(logs)))
            for task, log in logs.items()
        }
        return {task: text for task, text in tails.items() if text}

    def idle_seconds(self, record: RunRecord, now: float) -> float | None:
        """By the server's clock (a skewed local clock must not look like a stall)."""
        return self._snapshot(record)[1]

    def stop(self, record: RunRecord) -> None:
        ssh.stop(record, self._held())
        self._seen.pop(record.slug, None)

    def relaunch(
        self, record: RunRecord, extra_args: list[str], env: dict[str, str] | None = None
    ) -> tuple[RunRecord, int]:
        """The same (environment-wrapped, guarded) command plus extra_args: every argument passes through."""
        spec = RunSpec.again(record, extra_args, env, PurePosixPath)
        fresh = ssh.launch(spec, self._held())
        self._seen.pop(record.slug, None)
        return fresh, int(fresh.history[-1].get("log_offset", 0))

    def fetch_results(self, record: RunRecord) -> None:
        """Bring results/<slug>/, the guard's provenance records and the log home (resumable; weights stay on
        the server)."""
        from exprun.remote import pull

        paths = Paths(record.slug, self.root)
        ssh.pull_run_evidence(self._held(), record, self.root)
        log = ssh.on_server(self._held(), record.log)
        pull.pull(self._held(), log, paths.log.relative_to(self.root).as_posix(), self.root)
