"""The service's Redis client, made from its settings."""

from __future__ import annotations

from typing import cast

import redis
from redis.cluster import ClusterNode

from dispatch.settings import Settings

# What the rest of the service names without importing redis: the client it is handed, and the
# error any Redis command may raise (the web answers it as a 503).
Client = redis.Redis
StorageError = redis.RedisError


def redis_client(settings: Settings, *, socket_timeout: float | None = 5) -> Client:
    """A client for the service's Redis: a Redis Cluster where its nodes are set, the
    Sentinel-elected master where sentinels are set (it follows a fail-over), else
    ``REDIS_URL``, else the project's own redis-server."""
    if settings.redis_cluster:
        nodes = [ClusterNode(host, port) for host, port in settings.redis_cluster]  # type: ignore[no-untyped-call]
        cluster = redis.RedisCluster(
            startup_nodes=nodes, socket_timeout=socket_timeout, socket_connect_timeout=2
        )
        return cast(redis.Redis, cluster)  # the same commands; multi-key ones stay in one slot
    if settings.redis_sentinels:
        sentinel = redis.Sentinel(list(settings.redis_sentinels), socket_timeout=2)  # type: ignore[no-untyped-call]
        master: redis.Redis = sentinel.master_for(  # type: ignore[no-untyped-call]
            settings.redis_sentinel_master, socket_timeout=socket_timeout,
            socket_connect_timeout=2,
        )  # fmt: skip
        return master
    url = settings.redis_url
    if url is None:
        from dispatch.storage.server import start_local_redis

        url = start_local_redis(settings.var_dir / "redis", settings.local_redis_port)
    return redis.Redis.from_url(url, socket_timeout=socket_timeout, socket_connect_timeout=2)


def ping(client: Client) -> None:
    """Return if Redis answers; a StorageError if it does not (the readiness probe's check)."""
    client.ping()
