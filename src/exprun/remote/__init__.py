"""The remote GPU server: one SSH connection per command, and the verbs that use it.

server_config (config/server.yaml) -> endpoints (hops, ~/.ssh/config) -> session
(RemoteSession: one paramiko Transport, host keys and auth checked) -> the jobs
over it: gpus, sync, envsetup, pull, and launchers/ssh for screen runs. verbs
turns each into the JSON answer of `exprun remote <verb>` / `tools/remote.py`.
"""
