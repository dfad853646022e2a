"""The cluster as verify reads it, through the Kubernetes Python client: reads only.

The kubeconfig is the stack's (``gke-gcloud-auth-plugin`` supplies its token) or any file. Every
call carries a timeout from the budget and at most one connection retry; once the API gives no
answer, or refuses the credentials, later calls fail at once with the same message.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import urllib3
from kubernetes.client import (
    ApiClient,
    AppsV1Api,
    Configuration,
    CoreV1Api,
    CoreV1Event,
    V1DaemonSet,
    V1Deployment,
    V1Node,
    V1Pod,
)
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.kube_config import new_client_from_config, new_client_from_config_dict

from verify.budget import Budget, Latch, bounded
from verify.inputs import UsageError

T = TypeVar("T")

LOAD_SECONDS = 30.0
"""How long the kubeconfig's credential plugin may take to hand over a token (at most a quarter
of the budget, so that the other checks still run when it hangs)."""


class ClusterError(Exception):
    """The API answered, but not with what was asked for (403, 500, ...)."""


class PodLogError(Exception):
    """The API server could not read a pod's log; the message is its own."""


class Cluster:
    """Typed reads of the objects the checks need, cached for the run."""

    def __init__(self, api: ApiClient | None, budget: Budget, failure: str | None = None) -> None:
        self._core = CoreV1Api(api) if api else None
        self._apps = AppsV1Api(api) if api else None
        self._host = api.configuration.host if api else "the cluster"
        self._budget = budget
        self._latch = Latch(failure)
        self._cache: dict[tuple[str, ...], Any] = {}

    @classmethod
    def connect(cls, kubeconfig: Mapping[str, Any], path: Path | None, budget: Budget) -> Cluster:
        """A client from the kubeconfig; a plugin that fails or hangs becomes the run's answer.

        ``persist_config=False``: the client never writes a refreshed token back to a file.
        """
        configuration = Configuration()
        # One retry of a failed connection, none of a request that reached the server.
        configuration.retries = urllib3.Retry(
            total=1, connect=1, read=0, status=0, other=0, redirect=0
        )

        def load() -> ApiClient:
            if path is not None:
                return new_client_from_config(
                    config_file=str(path),
                    persist_config=False,
                    client_configuration=configuration,
                )
            return new_client_from_config_dict(
                config_dict=dict(kubeconfig),
                persist_config=False,
                client_configuration=configuration,
            )

        seconds = budget.within(min(LOAD_SECONDS, budget.seconds / 4))
        with _plugin_errors() as plugin_errors:
            try:
                api = bounded(load, seconds, "the kubeconfig's credential plugin")
            except ConfigException as error:
                raise UsageError(f"the kubeconfig cannot be used: {error}") from None
            except TimeoutError as error:
                return cls(None, budget, f"the Kubernetes API was not tried: {error}")
        if plugin_errors:
            return cls(
                None,
                budget,
                "the kubeconfig's credential plugin failed: " + " ".join(plugin_errors)[:300],
            )
        return cls(api, budget)

    def node(self, name: str) -> V1Node | None:
        return self._cached(
            ("node", name), lambda core, t: core.read_node(name, _request_timeout=t)
        )

    def pod(self, namespace: str, name: str) -> V1Pod | None:
        return self._cached(
            ("pod", namespace, name),
            lambda core, t: core.read_namespaced_pod(name, namespace, _request_timeout=t),
        )

    def pod_log(self, namespace: str, name: str) -> str:
        """The last line of a pod's log, read as ``kubectl logs --tail 1`` reads it.

        The API server fetches it from the kubelet API of the pod's node, so an answer proves
        that path and that the API server trusts that kubelet's serving certificate. A refusal
        raises ``PodLogError`` with the API server's message (an x509 error names the
        certificate's problem).
        """

        def read(core: CoreV1Api, timeouts: Any) -> str:
            try:
                return str(
                    core.read_namespaced_pod_log(
                        name, namespace, tail_lines=1, _request_timeout=timeouts
                    )
                )
            except ApiException as error:
                if error.status in (401, 404):
                    raise
                return _LOG_REFUSED + _api_message(error)

        text = self._cached(("pod-log", namespace, name), read)
        if text is None:
            raise PodLogError(f"pods {name!r} not found in {namespace}")
        if text.startswith(_LOG_REFUSED):
            raise PodLogError(text.removeprefix(_LOG_REFUSED))
        return text

    def pods(self, namespace: str, selector: Mapping[str, str]) -> list[V1Pod]:
        labels = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
        found = self._cached(
            ("pods", namespace, labels),
            lambda core, t: (
                core.list_namespaced_pod(namespace, label_selector=labels, _request_timeout=t).items
            ),
        )
        return found or []

    def pods_on_node(self, node: str) -> list[V1Pod]:
        found = self._cached(
            ("pods-on", node),
            lambda core, t: (
                core.list_pod_for_all_namespaces(
                    field_selector=f"spec.nodeName={node}", _request_timeout=t
                ).items
            ),
        )
        return found or []

    def node_events(self, node: str) -> list[CoreV1Event]:
        found = self._cached(
            ("events", node),
            lambda core, t: (
                core.list_event_for_all_namespaces(
                    field_selector=f"involvedObject.kind=Node,involvedObject.name={node}",
                    _request_timeout=t,
                ).items
            ),
        )
        return found or []

    def deployment(self, namespace: str, name: str) -> V1Deployment | None:
        return self._cached_apps(
            ("deployment", namespace, name),
            lambda apps, t: apps.read_namespaced_deployment(name, namespace, _request_timeout=t),
        )

    def daemon_set(self, namespace: str, name: str) -> V1DaemonSet | None:
        return self._cached_apps(
            ("daemonset", namespace, name),
            lambda apps, t: apps.read_namespaced_daemon_set(name, namespace, _request_timeout=t),
        )

    def _cached(self, key: tuple[str, ...], read: Callable[[CoreV1Api, Any], T]) -> T | None:
        return self._call(key, lambda t: read(self._core, t) if self._core else None)

    def _cached_apps(self, key: tuple[str, ...], read: Callable[[AppsV1Api, Any], T]) -> T | None:
        return self._call(key, lambda t: read(self._apps, t) if self._apps else None)

    def _call(self, key: tuple[str, ...], read: Callable[[Any], T | None]) -> T | None:
        """``read(timeouts)``; None for a 404; errors as NoAnswerError or ClusterError."""
        if key in self._cache:
            return self._cache[key]
        self._latch.check()
        try:
            value = read(self._budget.timeouts())
        except ApiException as error:
            if error.status == 404:
                value = None
            elif error.status == 401:
                raise self._latch.trip(
                    f"the Kubernetes API at {self._host} refused the credentials (HTTP 401)"
                ) from None
            else:
                raise ClusterError(
                    f"the Kubernetes API answered HTTP {error.status} {error.reason or ''}".strip()
                    + f" to a read of {' '.join(key)}"
                ) from None
        except urllib3.exceptions.HTTPError as error:
            raise self._latch.trip(
                f"the Kubernetes API at {self._host} did not answer ({_transport(error)})"
            ) from None
        self._cache[key] = value
        return value


# Marks a refused log read in the cache, so that a second read of it fails without a call.
_LOG_REFUSED = "\0refused: "


def _api_message(error: ApiException) -> str:
    """The Status message the API server answered with, on one line."""
    try:
        message = json.loads(error.body or "").get("message", "")
    except (ValueError, AttributeError):
        message = ""
    return " ".join(str(message or f"HTTP {error.status} {error.reason or ''}").split())


def _transport(error: urllib3.exceptions.HTTPError) -> str:
    """The innermost reason of a urllib3 failure (refused, timeout, TLS), in one short phrase."""
    reason: BaseException = error
    while isinstance(reason, urllib3.exceptions.MaxRetryError) and reason.reason is not None:
        reason = reason.reason
    text = str(reason).split(": ", 1)[-1] if ": " in str(reason) else str(reason)
    return f"{type(reason).__name__}: {text}"[:200]


@contextmanager
def _plugin_errors() -> Iterator[list[str]]:
    """Collect what the Kubernetes client logs when the kubeconfig's exec plugin fails.

    The client logs the failure (``logging.error``) and goes on without a token; collected here,
    it becomes the message of every cluster check instead of a bare HTTP 401.
    """
    messages: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.ERROR:
                messages.append(record.getMessage())

    root = logging.getLogger()
    handler = Collect()
    root.addHandler(handler)
    try:
        yield messages
    finally:
        root.removeHandler(handler)
