"""Elasticsearch credentials and transport TLS: read back from the cluster, generated only when absent.

Regenerating them would lock the agents or Kibana out (the `elastic` password is fixed at Elasticsearch's
first start, the others were sent to it) or split the cluster (nodes trust one CA), so an existing Secret
always wins. A password generated again (its Secret was deleted) is sent again (es_plan).
"""

from __future__ import annotations

import base64
import datetime
import secrets

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from kubelogs.cluster.api import Kube
from kubelogs.manifests import GeneratedSecrets
from kubelogs.manifests.common import (
    CREDENTIALS_SECRET,
    KIBANA_SECRET,
    READER_SECRET,
    TRANSPORT_TLS_SECRET,
    WRITER_SECRET,
)
from kubelogs.manifests.elasticsearch import DISCOVERY_SERVICE
from kubelogs.settings import Settings

CERT_VALIDITY = datetime.timedelta(days=10 * 365)  # transport certificates are internal; rotation is manual
TLS_KEYS = ("ca.crt", "tls.crt", "tls.key")


def _decoded(secret: dict | None, key: str) -> str:
    value = ((secret or {}).get("data") or {}).get(key)
    return base64.b64decode(value).decode() if value else ""


def existing_or_new(kube: Kube, settings: Settings) -> tuple[GeneratedSecrets, list[str]]:
    """The secrets to render, and the names of those generated in this run (nothing if security is off)."""
    if not settings.elasticsearch.security_enabled:
        return GeneratedSecrets(password=""), []
    ns, generated = settings.namespace, []

    def kept_or_new(secret: str, key: str) -> str:
        value = _decoded(kube.get("Secret", secret, ns), key)
        if not value:
            value = secrets.token_urlsafe(24)
            generated.append(secret)
        return value

    password = kept_or_new(CREDENTIALS_SECRET, "password")
    tls_secret = kube.get("Secret", TRANSPORT_TLS_SECRET, ns)
    tls = {key: _decoded(tls_secret, key) for key in TLS_KEYS}
    if not all(tls.values()):
        tls = transport_certificates(ns)
        generated.append(TRANSPORT_TLS_SECRET)
    kibana_password = kibana_key = ""
    if settings.kibana.enabled:
        kibana = kube.get("Secret", KIBANA_SECRET, ns)
        kibana_password, kibana_key = _decoded(kibana, "password"), _decoded(kibana, "encryption-key")
        if not (kibana_password and kibana_key):
            kibana_password = kibana_password or secrets.token_urlsafe(24)
            kibana_key = kibana_key or secrets.token_urlsafe(32)  # Kibana wants at least 32 characters
            generated.append(KIBANA_SECRET)
    return GeneratedSecrets(password, tls["ca.crt"], tls["tls.crt"], tls["tls.key"],
                            writer_password=kept_or_new(WRITER_SECRET, "password"),
                            reader_password=kept_or_new(READER_SECRET, "password"),
                            kibana_password=kibana_password, kibana_key=kibana_key), generated


def transport_certificates(namespace: str) -> dict[str, str]:
    """A private CA and one certificate it signed, shared by every Elasticsearch node (PEM strings).

    Elasticsearch verifies the transport certificate against the CA only (verification_mode
    ``certificate``), so one certificate serves every pod; its names still describe the pods.
    """
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"kubelogs transport CA ({namespace})")])
    ca_cert = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + CERT_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    domain = f"{DISCOVERY_SERVICE}.{namespace}.svc"
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domain)]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + CERT_VALIDITY)
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName(DISCOVERY_SERVICE), x509.DNSName(domain), x509.DNSName(f"*.{domain}")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    return {
        "ca.crt": ca_cert.public_bytes(pem).decode(),
        "tls.crt": cert.public_bytes(pem).decode(),
        "tls.key": key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()).decode(),
    }
