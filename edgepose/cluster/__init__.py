"""Running edgepose on a clustered broker (issue 18).

- :mod:`edgepose.cluster.amqp_ingest` — the session-history ingest over AMQP 0-9-1 against a
  RabbitMQ cluster: one replicated quorum queue bound to the MQTT plugin's topic exchange gives
  competing consumers without MQTT 5 shared subscriptions; a batch is acknowledged only after
  it was committed, duplicates are absorbed by the store's unique ``msg_id``.

The device side (a list of brokers, MQTT 3.1.1) lives in :mod:`edgepose.telemetry`; the cluster
harness and measurement in ``tools/rabbitmq_cluster.py`` and ``tools/cluster_test.py``.
"""
