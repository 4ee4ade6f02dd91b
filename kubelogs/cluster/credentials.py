"""Elasticsearch credentials and certificates: read back from the cluster, generated only when absent.

Regenerating them would lock the agents or Kibana out (the `elastic` password is fixed at Elasticsearch's
first start, the others were sent to it) or split the cluster (nodes trust one CA), so an existing Secret
always wins. A password generated again (its Secret was deleted) is sent again (es_plan).

The HTTP certificate is the exception that proves the rule: it is renewed from the same CA when it expires
within ``elasticsearch.certificate_renew_days`` (Elasticsearch's pods then restart one at a time, the
clients trust the CA and notice nothing). The CA itself is replaced in two runs: the first publishes the new
CA beside the old one in the trust bundle (the clients restart and trust both) and keeps signing with the
old one; a later run signs with the new one. The old CA stays trusted until it expires.
"""

from __future__ import annotations

import base64
import datetime
import secrets
from dataclasses import dataclass, field

from kubelogs.cluster import certificates
from kubelogs.cluster.api import Kube
from kubelogs.manifests import GeneratedSecrets
from kubelogs.manifests.common import (
    CREDENTIALS_SECRET,
    HTTP_CA_SECRET,
    HTTP_CERTS_SECRET,
    HTTP_TRUST_SECRET,
    KIBANA_SECRET,
    MONITOR_SECRET,
    READER_SECRET,
    TRANSPORT_TLS_SECRET,
    TRUST_KEY,
    WRITER_SECRET,
)
from kubelogs.manifests.elasticsearch import DISCOVERY_SERVICE, NAME
from kubelogs.settings import Settings

TLS_KEYS = ("ca.crt", "tls.crt", "tls.key")


@dataclass
class Generated:
    """What a run generates: the values to render, the Secrets made or renewed, and each certificate's
    expiry with what the run does about it (for the plan)."""

    values: GeneratedSecrets
    secrets: list[str] = field(default_factory=list)
    certificates: list[str] = field(default_factory=list)
    earliest_expiry: datetime.datetime | None = None
    listed: list[dict] | None = None  # every Secret of the namespace, as read (the plan reuses it)


def _decoded(secret: dict | None, key: str) -> str:
    value = ((secret or {}).get("data") or {}).get(key)
    return base64.b64decode(value).decode() if value else ""


def existing_or_new(kube: Kube, settings: Settings, now: datetime.datetime | None = None) -> Generated:
    """The secrets to render, those generated in this run, and the certificates' expiry (nothing if security
    is off). One LIST reads every Secret of the namespace."""
    if not settings.elasticsearch.security_enabled:
        return Generated(GeneratedSecrets(password=""))
    ns, made = settings.namespace, []
    listed = kube.list("Secret", ns)
    live = {s["metadata"]["name"]: s for s in listed}

    def kept_or_new(secret: str, key: str) -> str:
        value = _decoded(live.get(secret), key)
        if not value:
            value = secrets.token_urlsafe(24)
            made.append(secret)
        return value

    password = kept_or_new(CREDENTIALS_SECRET, "password")
    tls = {key: _decoded(live.get(TRANSPORT_TLS_SECRET), key) for key in TLS_KEYS}
    if not all(tls.values()):
        tls = certificates.transport(ns, DISCOVERY_SERVICE)
        made.append(TRANSPORT_TLS_SECRET)
    kibana_password = kibana_key = ""
    if settings.kibana.enabled:
        kibana = live.get(KIBANA_SECRET)
        kibana_password, kibana_key = _decoded(kibana, "password"), _decoded(kibana, "encryption-key")
        if not (kibana_password and kibana_key):
            kibana_password = kibana_password or secrets.token_urlsafe(24)
            kibana_key = kibana_key or secrets.token_urlsafe(32)  # Kibana wants at least 32 characters
            made.append(KIBANA_SECRET)
    http = http_tls(live, settings, now or datetime.datetime.now(datetime.UTC))
    made += http.secrets
    values = GeneratedSecrets(password, tls["ca.crt"], tls["tls.crt"], tls["tls.key"],
                              writer_password=kept_or_new(WRITER_SECRET, "password"),
                              reader_password=kept_or_new(READER_SECRET, "password"),
                              kibana_password=kibana_password, kibana_key=kibana_key,
                              http_ca_crt=http.ca.crt, http_ca_key=http.ca.key,
                              http_previous_ca_crt=http.previous.crt if http.previous else "",
                              http_previous_ca_key=http.previous.key if http.previous else "",
                              http_crt=http.leaf.crt, http_key=http.leaf.key, http_trust=http.trust,
                              monitor_password=kept_or_new(MONITOR_SECRET, "password") if settings.metrics.enabled else "")
    return Generated(values, made, http.lines, http.earliest, listed)


@dataclass
class HttpTls:
    ca: certificates.Issued
    previous: certificates.Issued | None  # the CA being replaced, trusted until it expires
    leaf: certificates.Issued
    trust: str  # the bundle clients trust
    secrets: list[str]  # Secrets this run makes or renews
    lines: list[str]  # each certificate's expiry, and what this run does
    earliest: datetime.datetime


def _days(when: datetime.datetime, now: datetime.datetime) -> str:
    return f"expires {when:%Y-%m-%d} ({(when - now).days} days)"


def http_tls(live: dict[str, dict], settings: Settings, now: datetime.datetime) -> HttpTls:
    """The HTTP CA, Elasticsearch's HTTP certificate and the trust bundle, kept, made or renewed."""
    ns, renew = settings.namespace, datetime.timedelta(days=settings.elasticsearch.certificate_renew_days)
    made, lines = [], []
    stored = live.get(HTTP_CA_SECRET)
    ca = certificates.Issued(_decoded(stored, "ca.crt"), _decoded(stored, "ca.key"))
    previous = certificates.Issued(_decoded(stored, "previous-ca.crt"), _decoded(stored, "previous-ca.key"))
    published = _decoded(live.get(HTTP_TRUST_SECRET), TRUST_KEY)
    common_name = f"kubelogs HTTP CA ({ns})"
    if not (ca.crt and ca.key):
        ca, previous = certificates.new_ca(common_name, certificates.HTTP_CA_VALIDITY, now), certificates.Issued("", "")
        made.append(HTTP_CA_SECRET)
        lines.append(f"HTTP CA: new, {_days(certificates.not_after(ca.crt), now)}")
    elif certificates.not_after(ca.crt) - now < certificates.HTTP_VALIDITY + renew:
        # Replaced while a certificate it signs can still outlive the renewal window: the old one stays trusted.
        previous, ca = ca, certificates.new_ca(common_name, certificates.HTTP_CA_VALIDITY, now)
        made.append(HTTP_CA_SECRET)
        lines.append(f"HTTP CA: replaced (the old one {_days(certificates.not_after(previous.crt), now)}, "
                     "still trusted); the clients restart to trust the new one before it signs anything")
    else:
        lines.append(f"HTTP CA: {_days(certificates.not_after(ca.crt), now)}")
    if previous.crt and certificates.not_after(previous.crt) <= now:
        previous = certificates.Issued("", "")  # expired: nothing it signed is valid any more
    trust = "".join(c.crt for c in (ca, previous) if c.crt)
    # Sign with the new CA only once the clients were given it (a previous run published it).
    signer = ca if (not previous.crt or ca.crt in published) else previous
    leaf = certificates.Issued(_decoded(live.get(HTTP_CERTS_SECRET), "tls.crt"),
                               _decoded(live.get(HTTP_CERTS_SECRET), "tls.key"))
    names = certificates.http_names(ns, NAME, DISCOVERY_SERVICE)
    why = ("new" if not (leaf.crt and leaf.key) else
           "renewed: not signed by the CA clients trust" if not any(certificates.signed_by(leaf.crt, c.crt)
                                                                   for c in (ca, previous) if c.crt) else
           "renewed: signed by the CA being replaced" if signer is ca and not certificates.signed_by(leaf.crt, ca.crt) else
           "renewed: its names do not cover the Services" if set(names) - set(certificates.names(leaf.crt)) else
           f"renewed: {_days(certificates.not_after(leaf.crt), now)}, within {renew.days} days"
           if certificates.not_after(leaf.crt) - now < renew else "")
    if why:
        validity = min(certificates.HTTP_VALIDITY, certificates.not_after(signer.crt) - now)
        leaf = certificates.issue(signer, names, validity, now=now)
        made.append(HTTP_CERTS_SECRET)
        why += "; Elasticsearch's pods restart one at a time" if not why.startswith("new") else ""
    lines.append(f"HTTP certificate: {_days(certificates.not_after(leaf.crt), now)}" + (f" ({why})" if why else ""))
    if trust != published or leaf.crt != _decoded(live.get(HTTP_TRUST_SECRET), "tls.crt"):
        made.append(HTTP_TRUST_SECRET)
    earliest = min(certificates.not_after(c) for c in (ca.crt, leaf.crt))
    return HttpTls(ca, previous if previous.crt else None, leaf, trust, made, lines, earliest)
