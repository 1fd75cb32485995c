"""What an operator watches: the orchestrator's event metrics (:mod:`.instruments`) and the
gauges read from the database and the broker when Prometheus scrapes (:mod:`.db_gauges`).
``GET /metrics`` and the request id middleware are in :mod:`orchestrator.web.monitoring`."""
