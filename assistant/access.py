"""Who may do what on a shared copy, and how much: roles, per-session limits and the cap on answers at once.

A careers office or a bootcamp runs one copy for many people. Readers ask questions; maintainers also add and
remove documents and read the gaps and feedback reports. Who is a maintainer:

    sign-in configured ([auth] in .streamlit/secrets.toml)   the signed-in people whose e-mail address is in
                                                              `Settings.maintainers`
    no sign-in                                               everyone, but only while the page is served on
                                                              the local machine alone: listening on a loopback
                                                              address, asked from this machine, and not through
                                                              a proxy (a reverse proxy on this machine would pass
                                                              the network's requests to a loopback address);
                                                              otherwise nobody: the page is read-only

The chat page (app.py) draws the editing controls only for a maintainer and checks the role again before it
acts; the CLI is the maintainer's tool on the server. Pure logic, no Streamlit: app.py asks, this answers.

    >>> role(sign_in=False, email="", maintainers=(), address="127.0.0.1").can_edit
    True
    >>> role(sign_in=False, email="", maintainers=(), address="0.0.0.0").can_edit
    False
    >>> role(sign_in=True, email="Ana@Example.org", maintainers=("ana@example.org",), address="0.0.0.0").can_edit
    True
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

#: Addresses that serve the page to this machine only.
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


@dataclass(frozen=True)
class Role:
    """What one visitor may do, and why (the About panel says it in these words)."""

    can_edit: bool  # add and remove documents, read the gaps and feedback reports
    signed_in: bool
    email: str = ""
    why: str = ""


def role(
    sign_in: bool, email: str, maintainers: Iterable[str], address: str | None, client: str | None = None, proxied: bool = False
) -> Role:
    """The visitor's role (see the module docstring). `address` is the one the server listens on, `client`
    the address the request came from (None when unknown), `proxied` whether it carried forwarding headers.

    >>> role(sign_in=False, email="", maintainers=(), address="127.0.0.1", client="127.0.0.1", proxied=True).can_edit
    False
    """
    if sign_in:
        allowed = {m.strip().lower() for m in maintainers if m.strip()}
        if email and email.strip().lower() in allowed:
            return Role(True, True, email, "You are signed in as a maintainer.")
        if email:
            return Role(False, True, email, "You are signed in as a reader: only maintainers change the documents.")
        return Role(False, False, "", "Sign in to see who may change the documents.")
    local_client = client is None or client.strip().lower() in LOOPBACK
    if (address or "").strip().lower() in LOOPBACK and local_client and not proxied:
        return Role(True, False, "", "Served on this machine only, so you may change the documents.")
    return Role(False, False, "", "Served to a network without sign-in, so the documents cannot be changed here.")


def parse_maintainers(text: str) -> tuple[str, ...]:
    """E-mail addresses from a comma- or space-separated setting, lower case, without duplicates.

    >>> parse_maintainers("Ana@example.org, bo@example.org  ana@example.org")
    ('ana@example.org', 'bo@example.org')
    """
    seen = dict.fromkeys(part.strip().lower() for part in text.replace(",", " ").split() if "@" in part)
    return tuple(seen)


class RateLimit:
    """At most `limit` events in any `window` seconds (a sliding window), for one session.

    >>> clock = iter([0, 1, 2, 61]).__next__
    >>> r = RateLimit(2, 60, clock)
    >>> [r.allow() for _ in range(4)]
    [True, True, False, True]
    """

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.times: deque[float] = deque()

    def allow(self) -> bool:
        """Record an event if the limit allows it; False (nothing recorded) when it does not. 0 = no limit."""
        if self.limit <= 0:
            return True
        now = self.clock()
        while self.times and now - self.times[0] >= self.window:
            self.times.popleft()
        if len(self.times) >= self.limit:
            return False
        self.times.append(now)
        return True

    def wait(self) -> int:
        """Seconds until the next event is allowed (0 when it is)."""
        if self.limit <= 0 or len(self.times) < self.limit:
            return 0
        return max(1, int(self.window - (self.clock() - self.times[0]) + 0.999))


class Gate:
    """A cap on answers computed at once across every session of a server: a question that finds every slot
    taken is told to try again in a moment instead of joining a queue that grows without bound."""

    def __init__(self, slots: int) -> None:
        self.slots = max(1, slots)
        self._semaphore = threading.BoundedSemaphore(self.slots)

    def try_enter(self) -> bool:
        return self._semaphore.acquire(blocking=False)

    def leave(self) -> None:
        self._semaphore.release()


#: Headers a reverse proxy adds: a request carrying one came from elsewhere, whatever address it reached.
FORWARDING_HEADERS = ("forwarded", "x-forwarded-for", "x-forwarded-host", "x-real-ip")


def proxied(headers: dict[str, str] | None) -> bool:
    """Whether a request's headers show it came through a proxy.

    >>> proxied({"Host": "localhost"}), proxied({"X-Forwarded-For": "203.0.113.7"})
    (False, True)
    """
    return any(k.lower() in FORWARDING_HEADERS for k in (headers or {}))
