"""Starting or joining Ray, and reading a task's result, for the two jobs that run on it: the eval harness
(`eval --ray`) and the letter archive's ingest (`letters ingest --ray`).

Local mode by default (loopback only, no dashboard, Ray's usage report off); a cluster when an address is
given. Every worker process gets WORKER_ENV, so nothing on any node reaches a model hub or sends telemetry.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from drafter.errors import DrafterError

WORKER_ENV = {"HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False", "TOKENIZERS_PARALLELISM": "false"}


class RayEngineError(DrafterError):
    """Ray could not be started or reached, or a task failed on a node."""


def connect(address: str | None, num_cpus: int | None) -> bool:
    """Start or join Ray; True when this call started it (so the caller shuts it down again)."""
    import ray

    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # Ray's usage report would call out of the machine
    runtime_env = {"env_vars": WORKER_ENV}
    try:
        if address:
            ray.init(address=address, runtime_env=runtime_env, log_to_driver=False)
        else:
            # loopback only: no dashboard, and the node's address is not looked up on the network
            ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False, runtime_env=runtime_env,
                     _node_ip_address="127.0.0.1")
    except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError here
        where = f"the Ray cluster at {address}" if address else "a local Ray instance"
        raise RayEngineError(f"Cannot start or reach {where} ({type(exc).__name__}: {exc}). Check the address "
                             "(`ray status` on the head node) or run without --ray.") from exc
    return True


def cluster_cpus() -> int:
    import ray

    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def get(ref: Any) -> Any:
    """A finished task's result; a task that failed on a node raises its own DrafterError here, not Ray's wrapper."""
    import ray
    from ray.exceptions import RayError, RayTaskError

    try:
        return ray.get(ref)
    except RayTaskError as exc:
        cause = getattr(exc, "cause", None)
        if isinstance(cause, DrafterError):
            raise cause from None
        raise RayEngineError(f"A Ray task failed: {cause or exc}. Work finished so far is kept; run again to resume.") from exc
    except RayError as exc:
        raise RayEngineError(f"Ray lost a task ({type(exc).__name__}: {exc}). Work finished so far is kept; "
                             "run again to resume.") from exc


def run_bounded(submit: Callable[[Any], Any], jobs: Iterable[Any], handle: Callable[[Any], None], max_pending: int) -> None:
    """Submit each job as a task, keeping at most `max_pending` in flight (the archive is never queued whole), and
    hand each finished task's result to `handle` in this process, in the order they finish."""
    import ray

    pending: list = []
    for job in jobs:
        if len(pending) >= max_pending:
            ready, pending = ray.wait(pending, num_returns=1)
            handle(get(ready[0]))
        pending.append(submit(job))
    while pending:
        ready, pending = ray.wait(pending, num_returns=1)
        handle(get(ready[0]))
