"""Check the ``[mqtt]`` TLS files before anything connects.

A CA file that is not a certificate, a client key that does not match its certificate, or a file
the service user cannot read would otherwise pass the config check and only fail inside the TLS
library at connect time, with an X509 error that names neither the file nor the key.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from edgepose.errors import SettingsError


class _NeedsPassphrase(Exception):
    pass


def _ask_passphrase() -> str:
    raise _NeedsPassphrase


def _reason(e: ssl.SSLError) -> str:
    return str(e.reason or e.strerror or e).replace("_", " ").lower()


def check_tls_files(tls_ca: str | None, tls_cert: str | None, tls_key: str | None) -> None:
    """Raise :class:`SettingsError` naming the key and the file when a TLS file is unusable.

    Checks that each named file exists and is readable, that ``tls_ca`` holds at least one
    certificate, and that ``tls_cert`` and ``tls_key`` are a matching certificate and unencrypted
    private key (the device cannot type a passphrase).
    """
    for key, value in (("tls_ca", tls_ca), ("tls_cert", tls_cert), ("tls_key", tls_key)):
        if value is None:
            continue
        p = Path(value)
        if not p.is_file():
            raise SettingsError(f"[mqtt] {key}: file {value} does not exist or is not a file")
        try:
            with open(p, "rb") as fh:
                fh.read(1)
        except OSError as e:
            raise SettingsError(f"[mqtt] {key}: cannot read {value} ({e.strerror}); make it readable by the "
                                "user the device runs as (systemd: edgepose)") from None
    if tls_ca is not None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        try:
            ctx.load_verify_locations(cafile=tls_ca)
        except ssl.SSLError as e:
            raise SettingsError(
                f"[mqtt] tls_ca: {tls_ca} is not a CA certificate ({_reason(e)}); give the PEM file "
                "(-----BEGIN CERTIFICATE-----) of the CA that signed the broker's certificate") from None
        except (ValueError, UnicodeDecodeError) as e:
            raise SettingsError(f"[mqtt] tls_ca: {tls_ca} is not a CA certificate ({e})") from None
        if ctx.cert_store_stats().get("x509", 0) == 0:
            raise SettingsError(f"[mqtt] tls_ca: {tls_ca} holds no certificate; give the PEM file of the CA "
                                "that signed the broker's certificate")
    if tls_cert is not None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        try:
            ctx.load_cert_chain(tls_cert, tls_key, password=_ask_passphrase)
        except _NeedsPassphrase:
            raise SettingsError(
                f"[mqtt] tls_key: {tls_key or tls_cert} is encrypted with a passphrase, which the device "
                "cannot type; store the key unencrypted (openssl pkey -in KEY -out KEY.plain), mode 0600") from None
        except ssl.SSLError as e:
            why = _reason(e)
            if "mismatch" in why:
                raise SettingsError(f"[mqtt] tls_key: {tls_key} is not the private key of tls_cert {tls_cert} "
                                    f"({why}); give the key the certificate was made for") from None
            raise SettingsError(
                f"[mqtt] tls_cert: {tls_cert} (with tls_key {tls_key}) is not a PEM client certificate and "
                f"private key ({why}); give the certificate the broker's CA signed for this unit") from None
