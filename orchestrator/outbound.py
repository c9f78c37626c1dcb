"""Outbound HTTP to addresses an administrator typed (a WordPress site, API bases of the channels): only
to public internet addresses, unless the host is listed in DIEMCAU_OUTBOUND_ALLOW.

Without this, a channel's address could point at the server's own services (Redis's neighbours, the
cloud metadata endpoint, the intranet) and "Check" would send the credentials there. The address is
checked when the channel is saved and again on every connection: `guarded_session()` resolves the
host, checks every address it resolves to, and connects to the checked address itself (TLS still
verifies the name), so a DNS answer that changes between the check and the connection (rebinding)
cannot slip through.

DIEMCAU_OUTBOUND_ALLOW: comma-separated host names, IP addresses or networks (CIDR) that may be
private, e.g. `wp.sotttt.local,10.0.0.5,192.168.10.0/24` for an intranet WordPress."""
from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util import connection as urllib3_connection

from groundwork.config import options

ALLOW_ENV = "DIEMCAU_OUTBOUND_ALLOW"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class OutboundRefused(Exception):  # noqa: N818 - not an OSError on purpose: requests must not wrap it
    """The destination is not a public address and not allowed by DIEMCAU_OUTBOUND_ALLOW."""

    def __init__(self, host: str, reason: str):
        super().__init__(f"{host}: {reason}")
        self.host = host
        self.reason = reason


def _allowed() -> tuple[set[str], list[ipaddress.IPv4Network | ipaddress.IPv6Network]]:
    hosts: set[str] = set()
    networks = []
    for entry in options().outbound_allow:
        entry = entry.strip().lower().rstrip(".")
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            hosts.add(entry)
    return hosts, networks


def _public(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def checked_addresses(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to, all of them allowed; else OutboundRefused (socket.gaierror
    when the name does not resolve)."""
    name = host.strip("[]").rstrip(".").lower()
    if not name:
        raise OutboundRefused(host, "no host")
    allowed_hosts, allowed_networks = _allowed()
    infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if name in allowed_hosts:
        return addresses
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if not _public(ip) and not any(ip in network for network in allowed_networks):
            raise OutboundRefused(host, f"{address} is not a public address (allow it with {ALLOW_ENV})")
    return addresses


def check_url(url: str) -> None:
    """Refuse a URL that is not http(s) or whose host is not allowed (OutboundRefused, or socket.gaierror
    when the name does not resolve)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OutboundRefused(url, "not an http(s) address")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise OutboundRefused(url, "bad port") from None
    checked_addresses(parts.hostname, port)


class _PinnedConnectionMixin:
    """Connect to an address checked by checked_addresses, not to whatever the name resolves to later."""

    def _new_conn(self) -> socket.socket:
        try:
            addresses = checked_addresses(self.host, self.port)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        last: OSError | None = None
        for address in addresses:
            try:
                return urllib3_connection.create_connection(
                    (address, self.port), self.timeout, source_address=self.source_address,
                    socket_options=self.socket_options)
            except TimeoutError as exc:
                raise ConnectTimeoutError(self, f"Connection to {self.host} timed out.") from exc
            except OSError as exc:
                last = exc
        raise NewConnectionError(self, f"Failed to establish a new connection: {last}")


class _PinnedHTTPConnection(_PinnedConnectionMixin, HTTPConnection):
    pass


class _PinnedHTTPSConnection(_PinnedConnectionMixin, HTTPSConnection):
    pass


class _PinnedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _PinnedHTTPConnection


class _PinnedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _PinnedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _PinnedHTTPPool, "https": _PinnedHTTPSPool}

    def send(self, request, *args, **kwargs):
        # Checked here too: through a proxy the connection goes to the proxy, not to this host.
        try:
            check_url(request.url)
        except socket.gaierror as exc:
            raise requests.ConnectionError(f"cannot resolve {urlsplit(request.url).hostname}: {exc}") from None
        return super().send(request, *args, **kwargs)


def guarded_session() -> requests.Session:
    """A requests Session that only reaches allowed destinations, redirects included."""
    session = requests.Session()
    adapter = GuardedAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
