"""The keep-alive rule that gunicorn and the entry point's proxy both read (todo.keepalive)."""

from __future__ import annotations

import importlib
import sys

import pytest

from todo.keepalive import APP_KEEPALIVE_SECONDS, CLOSE_MARGIN_SECONDS, proxy_idle_seconds


def test_gunicorn_keeps_idle_connections_as_long_as_the_rule_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DB", "mongodb://localhost:27017/todo")
    monkeypatch.delenv("DB_FILE", raising=False)
    monkeypatch.delenv("PORT", raising=False)
    monkeypatch.delitem(sys.modules, "todo.gunicorn_conf", raising=False)
    gunicorn_conf = importlib.import_module("todo.gunicorn_conf")
    assert gunicorn_conf.keepalive == APP_KEEPALIVE_SECONDS
    # Gunicorn takes whole seconds.
    assert isinstance(gunicorn_conf.keepalive, int)


def test_a_proxy_closes_an_idle_connection_a_margin_before_the_app() -> None:
    assert proxy_idle_seconds() == APP_KEEPALIVE_SECONDS - CLOSE_MARGIN_SECONDS == 4
    assert proxy_idle_seconds(1.5) == 0.5


def test_a_keepalive_within_the_margin_leaves_no_idle_time() -> None:
    with pytest.raises(ValueError, match=r"a keep-alive of 1\.0 s leaves the proxy no idle time"):
        proxy_idle_seconds(CLOSE_MARGIN_SECONDS)
