"""The ``operator`` command and the operator's own signals (metrics, probes)."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import cast

from prometheus_client import REGISTRY
from typer.testing import CliRunner

from changetrail_operator.cli import build_app
from changetrail_operator.kopf_internals import WATCHING_LOGGER, count_watch_restarts


def test_the_operator_alone_has_an_operator_subcommand_with_its_options() -> None:
    app = build_app(other_components=False)

    result = CliRunner().invoke(app, ["operator", "--help"])

    assert result.exit_code == 0, result.output
    assert "--namespace" in result.output
    assert "--verbose" in result.output
    assert "api" not in CliRunner().invoke(app, ["--help"]).output.split("Commands")[1]


def test_with_the_api_installed_too_one_command_has_every_subcommand() -> None:
    help_text = CliRunner().invoke(build_app(), ["--help"]).output

    for command in ("operator", "api", "migrate", "keys", "webhooks"):
        assert command in help_text


def test_watch_stream_restarts_reported_by_kopf_are_counted() -> None:
    def restarts(reason: str) -> float:
        sample = REGISTRY.get_sample_value(
            "changetrail_operator_watch_restarts_total", {"reason": reason}
        )
        return sample or 0.0

    count_watch_restarts(verbose=False)
    before = restarts("gone"), restarts("inactive")
    watching = logging.getLogger(WATCHING_LOGGER)
    watching.debug("Restarting the watch-stream for deployments.v1.apps cluster-wide.")
    watching.debug("Watch-stream for configmaps.v1 cluster-wide is inactive, reconnecting.")
    watching.debug("Starting the watch-stream for deployments.v1.apps cluster-wide.")

    assert (restarts("gone"), restarts("inactive")) == (before[0] + 1, before[1] + 1)


def test_watch_timeouts_reach_kopf_as_whole_seconds() -> None:
    # kube-apiserver parses ?timeoutSeconds= as an integer and rejects "300.0" with a 400.
    import kopf

    from changetrail_operator.handlers import configure_kopf
    from changetrail_operator.runtime import Runtime
    from changetrail_operator.settings import OperatorSettings

    kopf_settings = kopf.OperatorSettings()
    runtime = cast(Runtime, SimpleNamespace(settings=OperatorSettings(), kopf_settings=None))
    configure_kopf(kopf_settings, runtime)
    assert isinstance(kopf_settings.watching.server_timeout, int)
    assert f"{kopf_settings.watching.server_timeout}".isdigit()
