"""A real MQTT CONNECT with the device's own settings, and what a refusal most likely means.

``edgepose doctor`` uses :func:`probe_broker`: a bare TCP connect says nothing about a wrong CA, a
host name the broker's certificate does not cover, TLS sent to a plain port, a wrong password or an
ACL that refuses the unit. The probe connects the way the device does (TLS files, credentials, the
same Last Will topic, which the broker's ACL checks at connect), subscribes to the command topic
and disconnects cleanly, so the Will is not published. :func:`explain_refusal` is also what the
publisher logs when the broker refuses it.
"""

from __future__ import annotations

import json
import os
import ssl
import time
import uuid
from dataclasses import dataclass
from typing import Any

from edgepose.telemetry.settings import MqttSettings

# CONNACK reason codes (MQTT 5; paho maps 3.1.1 return codes onto these)
UNSUPPORTED_PROTOCOL = 132
BAD_CREDENTIALS = 134
NOT_AUTHORIZED = 135


@dataclass(frozen=True)
class ProbeResult:
    """Outcome of one probe: ``ok`` and one line saying what was checked or what was refused."""

    ok: bool
    detail: str
    protocol: str | None = None
    max_packet_size: int | None = None


def _acl_hint(s: MqttSettings) -> str:
    status = s.topic("status")
    if s.username is not None and s.username != s.device_id:
        return (f"mqtt.username {s.username!r} differs from the device id {s.device_id!r}: the documented ACL "
                f"(docs/mosquitto-acl.md) lets user %u write only {s.base_topic}/%u/..., so everything this unit "
                f"publishes under {s.base_topic}/{s.device_id}/ (status, summaries, events) is refused; make the "
                f"username equal the device id (or set mqtt.device_id = {s.username!r})")
    if s.username is None and s.tls_cert is None:
        return ("no mqtt.username (and no client certificate) is set and the broker refuses anonymous clients; "
                "set mqtt.username = the device id and mqtt.password")
    return (f"the broker's ACL refused this unit; it must allow writing {status} and the unit's other "
            "topics (docs/mosquitto-acl.md)")


def explain_refusal(code: int, s: MqttSettings) -> str:
    """The likely cause of a CONNACK refusal ``code``, naming the config keys to look at."""
    if code == NOT_AUTHORIZED:  # Mosquitto also answers a wrong password this way
        if s.username is not None and s.username != s.device_id:
            return f"not authorized: {_acl_hint(s)}"
        if s.username is not None:
            return (f"not authorized: the broker refused user {s.username!r}: check mqtt.password against the "
                    "broker's password file (mosquitto_passwd), and that its ACL lets the unit write "
                    f"{s.topic('status')} (the Last Will; docs/mosquitto-acl.md)")
        return f"not authorized: {_acl_hint(s)}"
    if code == BAD_CREDENTIALS:
        if s.username is None:
            return "bad user name or password: the broker wants credentials; set mqtt.username and mqtt.password"
        return (f"bad user name or password: check mqtt.username ({s.username!r}) and mqtt.password against the "
                "broker's password file (mosquitto_passwd)")
    if code == UNSUPPORTED_PROTOCOL or code == 1:
        return 'unsupported protocol version: the broker does not speak MQTT 5; set mqtt.protocol = "3.1.1"'
    if code == 133:
        return f"client identifier not valid (edgepose-{s.device_id}); check mqtt.device_id"
    if code == 138:
        return "banned by the broker"
    if code in (136, 137):
        return "broker unavailable or busy; try again later"
    return f"refused with reason code {code}"


def _cert_problem(e: ssl.SSLCertVerificationError, s: MqttSettings) -> str:
    code = getattr(e, "verify_code", None)
    msg = getattr(e, "verify_message", None) or str(e)
    if code == 62 or "hostname" in msg.lower() or "match" in msg.lower():
        return (f"TLS: the broker's certificate does not cover the host name {s.host!r} ({msg}); set mqtt.host to a "
                "name in the certificate's subjectAltName, or reissue the certificate for this name")
    if code in (2, 18, 19, 20, 21):
        return (f"TLS: the broker's certificate is not signed by the CA in mqtt.tls_ca {s.tls_ca} ({msg}); wrong "
                "CA file?")
    if code == 10:
        return f"TLS: the broker's certificate has expired ({msg})"
    if code == 9:
        return f"TLS: the broker's certificate is not valid yet ({msg}); is the device clock right?"
    return f"TLS: the broker's certificate was refused ({msg})"


def _tls_problem(e: BaseException, s: MqttSettings) -> str:
    text = str(e)
    low = text.lower()
    if any(k in low for k in ("wrong version number", "record layer", "packet length too long", "http request",
                              "unexpected eof", "eof occurred", "unknown protocol", "connection reset")):
        return (f"TLS handshake with {s.host}:{s.port} failed ({text}); this port does not seem to speak TLS: "
                "use the broker's TLS listener (usually 8883) or leave out mqtt.tls_ca for a plain port")
    if "certificate required" in low or "alert handshake" in low or "bad certificate" in low:
        return (f"TLS handshake with {s.host}:{s.port} failed ({text}); the broker wants a client certificate it "
                "trusts: set mqtt.tls_cert and mqtt.tls_key")
    return f"TLS handshake with {s.host}:{s.port} failed ({text})"


def probe_broker(s: MqttSettings, timeout: float = 5.0) -> ProbeResult:
    """Connect as the device would, subscribe to its command topic, and disconnect."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

    protocols = [mqtt.MQTTv5, mqtt.MQTTv311] if s.protocol == "5" else [mqtt.MQTTv311]
    result = ProbeResult(False, "not tried")
    for proto in protocols:
        result = _probe_once(s, proto, timeout, mqtt, CallbackAPIVersion, MQTTErrorCode)
        if result.ok or "unsupported protocol" not in result.detail:
            return result
    return result


def _probe_once(s: MqttSettings, proto: int, timeout: float, mqtt: Any, api: Any, err: Any) -> ProbeResult:
    name = "5" if proto == mqtt.MQTTv5 else "3.1.1"
    c = mqtt.Client(api.VERSION2, client_id=f"edgepose-{s.device_id}-doctor-{os.getpid()}", protocol=proto,
                    reconnect_on_failure=False)
    c.connect_timeout = timeout
    if s.username is not None:
        c.username_pw_set(s.username, s.password)
    if s.tls_ca is not None:
        try:
            c.tls_set(ca_certs=s.tls_ca, certfile=s.tls_cert, keyfile=s.tls_key)
        except (ssl.SSLError, OSError, ValueError) as e:
            return ProbeResult(False, f"mqtt.tls_ca/tls_cert/tls_key unusable ({e})")
    will = {"schema": "edgepose.status/1", "device_id": s.device_id, "state": "offline"}
    c.will_set(s.topic("status"), json.dumps(will), qos=1, retain=True)
    seen: dict[str, Any] = {}
    c.on_connect = lambda _c, _u, _f, reason, props: seen.update(reason=reason, props=props)
    c.on_subscribe = lambda _c, _u, _mid, reasons, _p: seen.update(sub=reasons)
    where = f"{s.host}:{s.port}"
    try:
        c.connect(s.host, s.port, keepalive=s.keepalive)
    except ssl.SSLCertVerificationError as e:
        return ProbeResult(False, _cert_problem(e, s))
    except ssl.CertificateError as e:  # paho's own host name check
        return ProbeResult(False, f"TLS: the broker's certificate does not cover the host name {s.host!r} ({e})")
    except ssl.SSLError as e:
        return ProbeResult(False, _tls_problem(e, s))
    except (ConnectionResetError, BrokenPipeError) as e:
        if s.tls_ca is not None:
            return ProbeResult(False, _tls_problem(e, s))
        return ProbeResult(False, f"{where} closed the connection ({e})")
    except TimeoutError:
        return ProbeResult(False, f"{where} did not answer within {timeout:g} s"
                           + ("; a plain port that got TLS may stay silent" if s.tls_ca else ""))
    except OSError as e:
        why = e.strerror or str(e) or type(e).__name__
        return ProbeResult(False, f"cannot reach {where} ({why}); is the broker running (systemctl status "
                           "mosquitto) and mqtt.host/port right?")
    try:
        deadline = time.monotonic() + timeout
        while "reason" not in seen and time.monotonic() < deadline:
            if c.loop(timeout=0.2) != err.MQTT_ERR_SUCCESS:
                break
        if "reason" not in seen:
            hint = ("; this port may expect TLS (set mqtt.tls_ca) or a client certificate (tls_cert/tls_key)"
                    if s.tls_ca is None else "; the broker may want a client certificate (tls_cert/tls_key)"
                    if s.tls_cert is None else "")
            return ProbeResult(False, f"{where} closed the connection without answering the MQTT CONNECT{hint}")
        reason = seen["reason"]
        if reason.is_failure:
            return ProbeResult(False, f"{where} refused the connection: {explain_refusal(reason.value, s)}", name)
        props = seen.get("props")
        max_packet = getattr(props, "MaximumPacketSize", None) if props is not None else None
        if proto == mqtt.MQTTv5:
            from paho.mqtt.subscribeoptions import SubscribeOptions

            c.subscribe(s.topic("cmd"), options=SubscribeOptions(qos=1, retainHandling=2))
        else:
            c.subscribe(s.topic("cmd"), qos=1)
        deadline = time.monotonic() + timeout
        while "sub" not in seen and time.monotonic() < deadline:
            if c.loop(timeout=0.2) != err.MQTT_ERR_SUCCESS:
                break
        sub = seen.get("sub")
        security = ("TLS" + (" + client certificate" if s.tls_cert else "")) if s.tls_ca else "plain TCP"
        who = f"user {s.username!r}" if s.username else ("certificate" if s.tls_cert else "anonymous")
        if sub is None:
            return ProbeResult(False, f"{where}: connected, but the subscription to {s.topic('cmd')} got no answer",
                               name, max_packet)
        if any(r.is_failure for r in sub):
            return ProbeResult(False, f"{where}: connected, but reading {s.topic('cmd')} is refused ({sub[0]}); "
                               "the ACL must let the unit read its cmd topic", name, max_packet)
        # A QoS 1 event: with MQTT 5 the PUBACK says whether the ACL lets this unit write its topics
        # (Mosquitto does not check the Last Will at connect, and it accepts any subscription).
        c.on_publish = lambda _c, _u, mid, reason, _p: seen.update(puback=reason)
        event = {"schema": "edgepose.event/1", "msg_id": str(uuid.uuid4()), "device_id": s.device_id,
                 "kind": "doctor_probe", "level": "info", "ts": time.time(),
                 "message": "edgepose doctor checked the broker connection"}
        c.publish(s.topic("event"), json.dumps(event), qos=1)
        deadline = time.monotonic() + timeout
        while "puback" not in seen and time.monotonic() < deadline:
            if c.loop(timeout=0.2) != err.MQTT_ERR_SUCCESS:
                break
        ack = seen.get("puback")
        if ack is None:
            return ProbeResult(False, f"{where}: connected, but a QoS 1 message to {s.topic('event')} was not "
                               "acknowledged", name, max_packet)
        if ack.is_failure:
            why = explain_refusal(ack.value, s) if ack.value == NOT_AUTHORIZED else str(ack)
            return ProbeResult(False, f"{where}: connected, but publishing to {s.topic('event')} is refused: {why}",
                               name, max_packet)
        return ProbeResult(True, f"{where} accepted MQTT {name} CONNECT ({security}, {who}), the "
                           f"subscription to {s.topic('cmd')} and a QoS 1 event", name, max_packet)
    finally:
        try:
            c.disconnect()
            c.loop(timeout=0.1)
        except Exception:  # noqa: BLE001 - the answer is already decided
            pass
