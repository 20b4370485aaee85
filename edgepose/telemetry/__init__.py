"""MQTT telemetry: publisher, durable outbox, session journal, HA discovery, commands.

Import the pieces from their modules (``edgepose.telemetry.publisher.Telemetry``,
``...outbox.Outbox``, ``...journal.SessionJournal``, ``...broker.MqttSettings``,
``...state.state_dir``). This file imports nothing, so that :mod:`edgepose.config` can import
:mod:`edgepose.telemetry.broker` without a cycle through the package.

Use from the appliance::

    with Telemetry(cfg.mqtt, state_dir(), model="pose_landmark_full") as tel:   # start(): connect in bg
        tel.on_command(controller.apply_command)        # Command -> None | error string
        tel.session_started(session_id, program)        # journaled: a crash reports "interrupted"
        tel.publish_live({"session_id": ..., "program": ..., "state": "active", "reps": n, "score": s})
        tel.publish_summary({**session.summary(), "session_id": session_id, "status": "completed"})
        tel.publish_event({"kind": "camera_lost", "level": "error", "message": "..."})
    # close(): offline status, disconnect; anything unacknowledged stays in the outbox
"""
