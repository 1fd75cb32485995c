"""What an operator watches: Prometheus metrics (:mod:`.instruments`, :mod:`.db_gauges`,
``GET /metrics`` in :mod:`.routes`) and the request id on every log line."""
