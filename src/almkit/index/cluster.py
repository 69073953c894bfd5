"""Indexing on a Ray cluster: each worker loads the model once and embeds parts of the file list; the building
process commits the parts in their order, so a Ray build gives the index a single process gives (same vectors,
same ids) when the workers run on the same kind of CPU: each computes with the building process's thread count.

Every worker must see the files at the same paths (a shared filesystem) and have almkit and its assets
installed (``make setup`` on each node).
"""

from __future__ import annotations

from collections.abc import Iterator

from almkit.errors import ConfigError
from almkit.index.build import PartEmbedder


def embed_on_ray(
    address: str, workers: int, parts: list[list[str]], model_name: str, captions: bool, transcripts: bool
) -> Iterator[tuple[dict, list]]:
    """The embedded ``parts``, in order, from ``workers`` Ray actors on the cluster at ``address`` (``local``:
    start one on this machine with ``workers`` CPUs, stopped when done)."""
    import ray
    from ray.util import ActorPool

    if workers < 1:
        raise ConfigError(f"--ray-workers must be at least 1, not {workers}")
    started = not ray.is_initialized()
    if started:
        try:
            ray.init(
                address=address, num_cpus=workers if address == "local" else None,
                include_dashboard=False, log_to_driver=False, configure_logging=False,
            )  # fmt: skip
        except (ConnectionError, ValueError) as err:
            raise ConfigError(
                f"cannot reach the Ray cluster at {address!r} ({err})",
                hint="start it with `ray start --head`, or use --ray local",
            ) from err
    import torch

    threads = torch.get_num_threads()  # the building process's: the same vectors on the same kind of CPU
    actors = [
        ray.remote(num_cpus=1)(PartEmbedder).remote(model_name, captions, transcripts, threads) for _ in range(workers)
    ]
    try:
        yield from ActorPool(actors).map(lambda actor, part: actor.embed.remote(part), parts)
    finally:
        for actor in actors:
            ray.kill(actor)
        if started:
            ray.shutdown()
