"""Events out to webhooks: each camera's births, re-entries, losses, removals, re-identifications, class changes and
reconnects POSTed as JSON, one event per request, in order, through the console's persistent queue
(`autotrack.serve.outbox`), so an unreachable endpoint loses nothing and gets nothing twice that it answered.

The body is the event as MQTT sends it: `{"camera", "seq", "time", "frame", "kind", "id", "class", "reason"}`
(`seq` grows with each event of the camera and endpoint: a request whose answer was lost is sent again with the
same `seq`, for the receiver to drop). Secure defaults:

- https anywhere (certificates verified); plain http only to this machine or a private network (every address the
  host name resolves to, when it is checked: loopback, 10/8, 172.16/12, 192.168/16, fc00::/7; not link-local);
  no user or password in the url (sign the requests instead);
- no redirect is followed, no proxy is used, each request times out after TIMEOUT seconds;
- with `AUTOTRACK_WEBHOOK_SECRET` set, each request carries `X-Autotrack-Signature-256: sha256=<hex>`, the
  HMAC-SHA256 of the body with that secret (as GitHub signs its webhooks);
- a 2xx answer delivers the event; any 4xx but 408 and 429 rejects it for good (logged, counted, dropped, so one
  bad event does not hold up the rest); anything else (no answer, a timeout, a redirect, 408, 429, 5xx) is tried
  again, after 0.5 s, doubling up to MAX_DELAY.

Logs name an endpoint by its scheme, host and port only (a url's path may hold a token).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import os
import socket
import ssl
from http.client import HTTPConnection, HTTPException, HTTPSConnection
from pathlib import Path
from urllib.parse import urlsplit

from autotrack import __version__
from autotrack.errors import InputError
from autotrack.serve.messages import outgoing
from autotrack.serve.outbox import Message, Outbox, Sender

logger = logging.getLogger(__name__)

SECRET_ENV = "AUTOTRACK_WEBHOOK_SECRET"
SIGNATURE_HEADER = "X-Autotrack-Signature-256"
TIMEOUT = 10.0  # seconds per request
MAX_DELAY = 30.0  # the longest wait between two tries
MAX_QUEUED = 10000  # events kept per camera and endpoint while it is away


def check_webhook(url: object, where: str = "--webhook") -> str:
    """The url, if events may go there (see the module docstring); a one-line error otherwise."""
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"{where}: a webhook is an http:// or https:// url, got {url!r}")
    if parts.username is not None or parts.password is not None:
        raise InputError(f"{where}: no user or password in a webhook url; set {SECRET_ENV} to sign the requests")
    try:
        parts.port
    except ValueError:
        raise InputError(f"{where}: bad port in webhook url {shown(url)}") from None
    if parts.scheme == "http" and not _private(parts.hostname):
        raise InputError(f"{where}: plain http only to this machine or a private network; use https for "
                         f"{shown(url)}")
    return url


def shown(url: str) -> str:
    """The url as logs show it: scheme, host and port (its path may hold a token)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def _private(host: str) -> bool:
    """Whether every address of `host` is loopback or private (not link-local, not unspecified)."""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    for text in addresses:
        address = ipaddress.ip_address(text.split("%")[0])
        if not (address.is_loopback or address.is_private) or address.is_link_local or address.is_unspecified:
            return False
    return bool(addresses)


def post(url: str, body: bytes, secret: str | None, timeout: float = TIMEOUT) -> int:
    """POST `body` (JSON) to `url`, signed with `secret` when given; the answer's status. No redirect followed,
    no proxy; OSError or HTTPException when there is no answer."""
    parts = urlsplit(url)
    headers = {"Content-Type": "application/json", "User-Agent": f"autotrack/{__version__}"}
    if secret:
        headers[SIGNATURE_HEADER] = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if parts.scheme == "https":
        connection = HTTPSConnection(parts.hostname, parts.port, timeout=timeout, context=ssl.create_default_context())
    else:
        connection = HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        connection.request("POST", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), body, headers)
        response = connection.getresponse()
        response.read(65536)  # a small answer is read, so the connection closes cleanly
        return response.status
    finally:
        connection.close()


class Endpoint:
    """One camera's events to one url: its own queue file and sender thread."""

    def __init__(self, url: str, camera: str, queue_file: Path, max_queued: int = MAX_QUEUED) -> None:
        self.url = url
        self.rejected = 0  # events the endpoint refused for good (a 4xx answer)
        self.outbox = Outbox(queue_file, max_queued)
        self._secret = os.environ.get(SECRET_ENV) or None
        self._failing = False  # the last try failed (logged once, until one succeeds)
        self.sender = Sender(self.outbox, self._deliver, f"autotrack webhook {camera}", MAX_DELAY)

    def _deliver(self, message: Message) -> bool:
        """Send one event; True when it is done with (delivered, or rejected for good)."""
        try:
            status = post(self.url, message[2].encode(), self._secret)
        except (OSError, HTTPException) as error:
            return self._failed(f"no answer ({error.__class__.__name__}: {error})")
        if 200 <= status < 300:
            if self._failing:
                logger.warning("webhook %s answers again; sending %d queued events", shown(self.url), len(self.outbox))
            self._failing = False
            return True
        if 400 <= status < 500 and status not in (408, 429):
            self.rejected += 1
            logger.warning("webhook %s refused event %d (HTTP %d); dropped", shown(self.url), message[0], status)
            return True
        return self._failed(f"HTTP {status}")

    def _failed(self, reason: str) -> bool:
        if not self._failing:
            logger.warning("webhook %s: %s; events are queued and sent again", shown(self.url), reason)
        self._failing = True
        return False


class CameraWebhooks:
    """One camera's events to its webhook urls: `publish` queues a frame's event rows for each; each url's sender
    delivers them."""

    def __init__(self, urls: list[str], camera: str, folder: Path, max_queued: int = MAX_QUEUED) -> None:
        self.camera = camera
        self.endpoints = [Endpoint(url, camera, folder / f"{hashlib.sha256(url.encode()).hexdigest()[:16]}.sqlite",
                                   max_queued) for url in dict.fromkeys(urls)]

    def publish(self, rows: list[dict], classes: dict[int, str]) -> None:
        """Queue the event rows (`messages.event_row`) of the kinds sent, with each object's class from `classes`."""
        messages = [([self.camera], payload, False) for payload in outgoing(self.camera, rows, classes)]
        if messages:
            for endpoint in self.endpoints:
                endpoint.outbox.push(messages)

    def close(self, wait: float = 5.0) -> None:
        """Deliver what is queued (for up to `wait` seconds; the rest stays queued for the next start)."""
        for endpoint in self.endpoints:
            endpoint.sender.close(wait)
