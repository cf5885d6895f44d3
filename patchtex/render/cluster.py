"""Where a distributed render runs: a local cluster of worker processes, an existing
dask.distributed scheduler, or neither (this process)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


def _worker_plugin():
    from distributed import WorkerPlugin

    class LocalWorker(WorkerPlugin):
        """Each worker process of a local cluster runs torch on one thread (there is one
        worker process per core) and reuses freed memory as the CLI does
        (`runtime.reuse_freed_memory`); applied again to a worker that is restarted."""

        name = "patchtex-local-worker"

        def setup(self, worker) -> None:
            import torch

            from ..runtime import reuse_freed_memory

            torch.set_num_threads(1)
            reuse_freed_memory()

    return LocalWorker()


@contextmanager
def client_for(workers: int | None = None, scheduler: str | None = None) -> Iterator[object | None]:
    """A `distributed.Client`: on a new local cluster of `workers` processes (one thread
    each, torch limited to one thread, on 127.0.0.1, no dashboard), or on the scheduler at
    `scheduler`; None when neither is given. The local cluster is closed on exit."""
    if workers is None and scheduler is None:
        yield None
        return
    from distributed import Client, LocalCluster

    if scheduler is not None:
        client = Client(scheduler)
        try:
            yield client
        finally:
            client.close()
        return
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        client.register_plugin(_worker_plugin())
        yield client
