"""The appliance: the button-driven device (``edgepose serve``) and its self-check (``doctor``).

``controller`` (the pure state machine), ``app`` (hardware + sessions + telemetry), ``watchdog``
(systemd notify and watchdog pings) and ``doctor`` (checks of the device).
"""
