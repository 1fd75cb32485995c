"""The media agent's metrics, served on ``metrics.media_port`` (none when 0).

Events (segments written or lost, the recorder's lag) are counted where they happen; what the
agent holds now (recorders, bridges and the delay their jitter buffers add) is read from the
agent when Prometheus scrapes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import REGISTRY, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from config.settings import MetricsSettings

if TYPE_CHECKING:
    from media.agent import MediaAgent

SEGMENTS = Counter(
    "tiepdan_segments",
    "Audio segments closed by the recorders: written (listed in the manifest) or failed (lost).",
    ["outcome"],
)
RECORDER_LAG_SECONDS = Histogram(
    "tiepdan_recorder_lag_seconds",
    "How far a track's audio arrived behind the session clock, taken at each segment's end.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0),
)


class AgentGauges(Collector):
    """What one agent holds now."""

    def __init__(self, agent: MediaAgent) -> None:
        self._agent = agent

    def collect(self) -> Iterator[Metric]:
        agent = self._agent
        recorders = GaugeMetricFamily(
            "tiepdan_recorders", "Recorders this agent runs, by state.", labels=["state"]
        )
        recorders.add_metric(["recording"], len(agent.recorders))
        yield recorders
        links = agent.bridges.links.values()
        yield GaugeMetricFamily(
            "tiepdan_bridge_links_running", "Bridge links this agent runs.", value=len(links)
        )
        delay = GaugeMetricFamily(
            "tiepdan_bridge_latency_seconds",
            "The most audio queued in a running bridge's jitter buffers: the delay it adds, "
            "from the session to the hub (up) and back (down).",
            labels=["direction"],
        )
        delay.add_metric(["up"], max((lk.down.heard.queued_s() for lk in links), default=0.0))
        delay.add_metric(["down"], max((lk.up.heard.queued_s() for lk in links), default=0.0))
        yield delay


def serve_agent_metrics(settings: MetricsSettings, agent: MediaAgent) -> None:
    """Serve the agent's metrics on ``settings.media_port`` from a thread of its own."""
    if not settings.media_port:
        return
    REGISTRY.register(AgentGauges(agent))
    start_http_server(settings.media_port, addr=settings.host)
