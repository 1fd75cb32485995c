"""The alert rules and the Grafana dashboard under deploy/ name only metrics that tiepdan
serves, and the rules file is what Prometheus loads."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import yaml
from prometheus_client.metrics import MetricWrapperBase

from media import agent_metrics as media_metrics
from orchestrator.observability import instruments
from orchestrator.observability.db_gauges import DatabaseGauges
from transcription import worker_metrics

DEPLOY = Path(__file__).parents[2] / "deploy"
SAMPLE_SUFFIXES = ("", "_total", "_bucket", "_sum", "_count", "_created")
METRIC_NAME = re.compile(r"\btiepdan_[a-z0-9_]+")
# Prometheus's own series, which a rule may name besides ours.
PROMETHEUS_SERIES = {"up"}


def _families(module: Any) -> set[str]:
    return {
        family.name
        for value in vars(module).values()
        if isinstance(value, MetricWrapperBase)
        for family in value.describe()
    }


def _collected(collector: Any) -> set[str]:
    return {family.name for family in collector.collect()}


ORCHESTRATOR_METRICS = _families(instruments) | _collected(DatabaseGauges(None, None, 0))  # type: ignore[arg-type]
"""Every family the orchestrator's ``/metrics`` carries (tests.integration.test_metrics)."""
NO_BRIDGES = SimpleNamespace(recorders={}, bridges=SimpleNamespace(links={}))
ALL_METRICS = (
    ORCHESTRATOR_METRICS
    | _families(media_metrics)
    | _collected(media_metrics.AgentGauges(NO_BRIDGES))  # type: ignore[arg-type]
    | _families(worker_metrics)
)


def _unknown(expr: str) -> set[str]:
    named = set(METRIC_NAME.findall(expr))
    return {
        n for n in named
        if not any(n == f + s for f in ALL_METRICS for s in SAMPLE_SUFFIXES)
    }  # fmt: skip


def test_every_name_the_issue_asks_for_is_served() -> None:
    for needed in ("live_sessions", "live_participants", "recorders", "segments",
                   "recorder_lag_seconds", "bridge_links", "bridge_latency_seconds",
                   "queue_depth", "queue_oldest_job_seconds", "pipeline_step_seconds",
                   "asr_real_time_factor", "archive_outbox_backlog",
                   "archive_outbox_oldest_seconds", "archive_verify_mismatched_sessions",
                   "search_seconds", "failed_logins"):  # fmt: skip
        assert f"tiepdan_{needed}" in ALL_METRICS


def test_alert_rules_are_valid_and_name_only_served_metrics() -> None:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text(encoding="utf-8"))
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    names = {a["alert"] for a in alerts}
    assert {"TiepdanLiveSessionNotRecorded", "TiepdanArchiveBacklogOld",
            "TiepdanArchiveVerifyFailed", "TiepdanQueueStuck"} <= names  # fmt: skip
    for alert in alerts:
        assert set(alert) <= {"alert", "expr", "for", "labels", "annotations"}
        assert alert["labels"]["severity"] in {"critical", "warning"}
        expr = alert["expr"]
        assert METRIC_NAME.search(expr) or any(s in expr for s in PROMETHEUS_SERIES)
        assert not _unknown(expr), (alert["alert"], _unknown(expr))


def test_dashboard_names_only_served_metrics() -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "tiepdan.json").read_text(encoding="utf-8"))
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert exprs
    for expr in exprs:
        assert not _unknown(expr), (expr, _unknown(expr))


def test_an_unknown_name_is_caught() -> None:
    assert _unknown("tiepdan_live_sesions > 0") == {"tiepdan_live_sesions"}
    assert not _unknown("rate(tiepdan_segments_total[5m])")
