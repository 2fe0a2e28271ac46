"""The root of the service's error tree: errors raised on purpose, below the HTTP layer."""

from __future__ import annotations


class ServiceError(Exception):
    """Base class of errors raised on purpose by the service."""


class ConfigError(ServiceError, ValueError):
    """A setting that cannot be used."""


class RedisStartError(ServiceError, RuntimeError):
    """The local redis-server could not be started."""
