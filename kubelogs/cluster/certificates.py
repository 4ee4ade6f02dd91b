"""The private CAs and certificates kubelogs generates for Elasticsearch (PEM strings in, PEM strings out).

Two CAs, as ECK keeps them: the transport CA, which the nodes use to trust each other, and the HTTP CA,
which every client of Elasticsearch (agents, Kibana, kubelogs' own pods) verifies the HTTP certificate
against. Only the HTTP CA's key is kept (in a Secret no pod mounts), so that its certificate can be renewed
from the same CA; the transport CA's key was never stored, and its certificate lasts ten years.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

TRANSPORT_VALIDITY = datetime.timedelta(days=10 * 365)  # internal to the nodes; rotation is manual
HTTP_CA_VALIDITY = datetime.timedelta(days=5 * 365)
HTTP_VALIDITY = datetime.timedelta(days=365)  # renewed by a run within elasticsearch.tls.renew_before_days


@dataclass(frozen=True)
class Issued:
    crt: str
    key: str


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _pem_key(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def new_ca(common_name: str, validity: datetime.timedelta, now: datetime.datetime | None = None) -> Issued:
    """A self-signed CA that may sign end-entity certificates only, valid from ``now`` (default: now)."""
    now, key = now or _now(), rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + validity)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return Issued(cert.public_bytes(serialization.Encoding.PEM).decode(), _pem_key(key))


def issue(ca: Issued, names: list[str], validity: datetime.timedelta, server: bool = True,
          now: datetime.datetime | None = None) -> Issued:
    """A certificate signed by ``ca`` for ``names`` (DNS names, IP addresses, ``*.`` wildcards), valid from
    ``now`` (default: now); the first name is its common name."""
    now, key = now or _now(), rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_cert = x509.load_pem_x509_certificate(ca.crt.encode())
    ca_key = serialization.load_pem_private_key(ca.key.encode(), password=None)
    alternatives: list[x509.GeneralName] = []
    for name in names:
        try:
            alternatives.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alternatives.append(x509.DNSName(name))
    usages = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH] if server else \
        [ExtendedKeyUsageOID.CLIENT_AUTH]
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + validity)
            .add_extension(x509.SubjectAlternativeName(alternatives), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))  # type: ignore[arg-type]
    return Issued(cert.public_bytes(serialization.Encoding.PEM).decode(), _pem_key(key))


def not_after(pem: str) -> datetime.datetime:
    """When a PEM certificate (the first, in a bundle) expires."""
    return x509.load_pem_x509_certificate(pem.encode()).not_valid_after_utc


def names(pem: str) -> list[str]:
    """The subject alternative names of a PEM certificate, as ``issue`` takes them."""
    cert = x509.load_pem_x509_certificate(pem.encode())
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [str(v) for v in san.get_values_for_type(x509.DNSName) + san.get_values_for_type(x509.IPAddress)]


def signed_by(pem: str, ca_pem: str) -> bool:
    """Whether certificate ``pem`` was signed by the CA certificate ``ca_pem``."""
    cert, ca = x509.load_pem_x509_certificate(pem.encode()), x509.load_pem_x509_certificate(ca_pem.encode())
    try:
        cert.verify_directly_issued_by(ca)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def transport(namespace: str, discovery_service: str) -> dict[str, str]:
    """The transport CA and one certificate it signed, shared by every Elasticsearch node (the CA's key is
    not kept). Elasticsearch verifies the transport certificate against the CA only (verification_mode
    ``certificate``), so one certificate serves every pod; its names still describe the pods."""
    ca = new_ca(f"kubelogs transport CA ({namespace})", TRANSPORT_VALIDITY)
    domain = f"{discovery_service}.{namespace}.svc"
    cert = issue(ca, [domain, discovery_service, f"*.{domain}"], TRANSPORT_VALIDITY)
    return {"ca.crt": ca.crt, "tls.crt": cert.crt, "tls.key": cert.key}


def http_names(namespace: str, service: str, discovery_service: str) -> list[str]:
    """What clients call Elasticsearch's HTTP layer by: the client Service in each form a pod may resolve,
    each pod through the governing Service, and the loopback its own readiness probe uses."""
    return [f"{service}.{namespace}.svc", service, f"{service}.{namespace}", f"{service}.{namespace}.svc.cluster.local",
            f"*.{discovery_service}.{namespace}.svc", "localhost", "127.0.0.1"]
