"""Elasticsearch credentials and transport TLS: read back from the cluster, generated only when absent.

Regenerating either would lock the agents out (the password is fixed at Elasticsearch's first start)
or split the cluster (nodes trust one CA), so an existing Secret always wins.
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
from kubelogs.manifests.common import CREDENTIALS_SECRET, TRANSPORT_TLS_SECRET
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
    password = _decoded(kube.get("Secret", CREDENTIALS_SECRET, ns), "password")
    if not password:
        password = secrets.token_urlsafe(24)
        generated.append(CREDENTIALS_SECRET)
    tls_secret = kube.get("Secret", TRANSPORT_TLS_SECRET, ns)
    tls = {key: _decoded(tls_secret, key) for key in TLS_KEYS}
    if not all(tls.values()):
        tls = transport_certificates(ns)
        generated.append(TRANSPORT_TLS_SECRET)
    return GeneratedSecrets(password, tls["ca.crt"], tls["tls.crt"], tls["tls.key"]), generated


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
