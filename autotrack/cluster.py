"""Joining a Ray cluster (the `ray` extra), for `autotrack batch --ray` and `autotrack serve --ray`."""

from __future__ import annotations

from autotrack.errors import AutotrackError, one_line


def connect(address: str, num_cpus: int | None = None) -> bool:
    """Connect this process to Ray: `local` starts a runtime here (with `num_cpus` CPUs when given), `auto` joins
    the cluster this machine is part of, `ray://host:port` a remote one; a runtime this process already has is used
    as it is. Returns whether this call started the runtime (its caller then shuts it down)."""
    try:
        import ray
    except ImportError:
        raise AutotrackError("Ray is not installed: pip install 'autotrack[ray]'") from None
    if ray.is_initialized():
        return False
    try:
        if address == "local":
            ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)
    except Exception as error:  # Ray raises ConnectionError, ValueError or RuntimeError for a bad address
        raise AutotrackError(f"cannot connect to Ray at {address!r}: {one_line(error)}") from None
    return True


def check_fits(what: str, cpus: float, gpus: float) -> None:
    """Refuse a request (`what`: "each task", "each actor") that no live node could ever hold: it would wait
    forever."""
    import ray

    for kind, need in (("CPU", cpus), ("GPU", gpus)):
        most = max((node["Resources"].get(kind, 0) for node in ray.nodes() if node["Alive"]), default=0)
        if need > most:
            raise AutotrackError(f"{what} asks for {need:g} {kind}(s) but no node of the Ray cluster has more than "
                                 f"{most:g}")
