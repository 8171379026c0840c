"""The one guard on calls the platform makes to addresses a tenant chose.

A tenant can name hosts in data-source connectors (PostgreSQL, Redshift, MongoDB, HTTP APIs)
and in webhook endpoints. Left alone, such a host could be the platform's own machine
(loopback), its private network (the database, Redis) or the cloud's metadata service
(link-local): the platform would fetch it and maybe show the answer to the tenant. So:

- every such host is resolved here, and refused unless every address it resolves to is a
  public one (``OUTBOUND_ALLOW_PRIVATE_NETWORKS`` lifts this for self-hosted installations
  whose systems live on their own network, and for tests);
- the connection is then made to the address that was checked, not to the name again (a DNS
  answer that changes between the check and the connection cannot slip through):
  :func:`open_url` does this for HTTP(S), redirects included;
- what a remote system answers is never echoed back: callers report the status and their
  own words, not the body.

Addresses that are the operator's business (the Stripe emulator, the SMTP server) are
deployment settings, never tenant fields, and do not go through here.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings


class OutboundRefused(Exception):
    """The address is not one the platform may call; the message says why."""


def private_networks_allowed() -> bool:
    return bool(getattr(settings, "OUTBOUND_ALLOW_PRIVATE_NETWORKS", False))


def public_address(host: str, port: int) -> str:
    """Resolve ``host`` and return the address to connect to. Refuses local sockets and
    names that resolve to loopback, private, link-local, multicast or other non-global
    addresses, unless private networks are allowed."""
    if not host:
        raise OutboundRefused("No host was given.")
    if host.startswith("/"):
        if private_networks_allowed():
            return host
        raise OutboundRefused("Connecting through a local socket is not allowed.")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError):
        raise OutboundRefused(f"Cannot resolve the host {host!r}.") from None
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise OutboundRefused(f"Cannot resolve the host {host!r}.")
    if not private_networks_allowed():
        for address in addresses:
            ip = ipaddress.ip_address(address.split("%")[0])
            if not ip.is_global or ip.is_multicast:
                raise OutboundRefused(
                    f"The host {host!r} resolves to {address}, which is not a public address."
                )
    return addresses[0]


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def connect(self) -> None:
        address = public_address(self.host, self.port)
        self.sock = socket.create_connection((address, self.port), self.timeout,
                                             getattr(self, "source_address", None))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def connect(self) -> None:
        address = public_address(self.host, self.port)
        sock = socket.create_connection((address, self.port), self.timeout,
                                        getattr(self, "source_address", None))
        context = getattr(self, "_context", None) or ssl.create_default_context()
        # the certificate is checked against the name, the socket goes to the checked address
        self.sock = context.wrap_socket(sock, server_hostname=self.host)


class _PinnedHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req: urllib.request.Request) -> Any:
        return self.do_open(_PinnedHTTPConnection, req)


class _PinnedHTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req: urllib.request.Request) -> Any:
        return self.do_open(_PinnedHTTPSConnection, req, context=ssl.create_default_context())


def build_opener(*handlers: urllib.request.BaseHandler) -> urllib.request.OpenerDirector:
    """A urllib opener for tenant-chosen URLs: http and https only, every connection (each
    redirect too) made to an address :func:`public_address` accepted. ``handlers`` are added
    (e.g. a redirect policy)."""
    opener = urllib.request.OpenerDirector()
    for handler in (_PinnedHTTPHandler(), _PinnedHTTPSHandler(),
                    urllib.request.HTTPDefaultErrorHandler(),
                    urllib.request.HTTPErrorProcessor(), *handlers):
        opener.add_handler(handler)
    if not any(isinstance(h, urllib.request.HTTPRedirectHandler) for h in handlers):
        opener.add_handler(urllib.request.HTTPRedirectHandler())
    return opener


def check_url(url: str) -> None:
    """Refuse a URL that is not http(s) or whose host is not public (a first check at the
    door; the connection is checked again when it is made)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise OutboundRefused("Only http:// and https:// URLs can be called.")
    public_address(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))
