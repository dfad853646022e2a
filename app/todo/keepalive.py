"""How long an idle keep-alive connection to the app lives: one rule for the app and its proxy.

Gunicorn closes a connection that has been idle for ``keepalive`` seconds (todo.gunicorn_conf).
A proxy that keeps a pool of connections to the app (the entry point's Envoy,
specs/envoy_config.py) must close an idle one first: otherwise it may send a request on a
connection the app is closing at that moment; the request and the app's close cross on the
wire, and the proxy answers ``503 UC`` (upstream connection termination) for a request the app
never saw, which no safe retry covers (the request was sent). Between GKE and ACI the round trip
is tens of milliseconds, which is that window.
"""

from __future__ import annotations

from typing import Final

# An int: gunicorn takes whole seconds (gunicorn.config.Keepalive).
APP_KEEPALIVE_SECONDS: Final = 5
# Assumption: more than any round trip between the proxy and the app, GKE to ACI included.
CLOSE_MARGIN_SECONDS: Final = 1.0


def proxy_idle_seconds(app_keepalive: float = APP_KEEPALIVE_SECONDS) -> float:
    """How long a proxy may keep idle a connection to an app that closes it after ``app_keepalive``.

    Raises ValueError when the keep-alive leaves no room for the margin.
    """
    if app_keepalive <= CLOSE_MARGIN_SECONDS:
        raise ValueError(f"a keep-alive of {app_keepalive} s leaves the proxy no idle time")
    return app_keepalive - CLOSE_MARGIN_SECONDS
