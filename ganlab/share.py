"""Bringing a class in: the addresses students can open, and a QR code of one for their phones.

Where the app listens on every interface (``0.0.0.0``) its own name for itself is no use to a student,
so ``reachable_addresses`` asks this machine which IPv4 addresses it has on its networks: the address of
the interface it would use to reach a private network (a UDP socket ``connect()``: that only picks a
route, no packet is sent) and the addresses its host name resolves to. Loopback and link-local
addresses are left out. Nothing here sends traffic anywhere.

``qr_svg`` draws a QR code (segno) as inline SVG, big enough to scan from a phone across a classroom;
``join_url`` is a quiz's join link (``<base>/quiz/CODE``, the lean participant page) and ``join_bases``
the addresses to build it on: the one the person's browser used, unless that is this machine's own
loopback name while the app listens beyond loopback (students cannot open ``127.0.0.1``).
"""

from __future__ import annotations

import io
import ipaddress
import socket
from urllib.parse import quote, urlsplit, urlunsplit

from ganlab.admin import LOOPBACK_HOSTS

EVERY_INTERFACE = ("0.0.0.0", "::", "")
# connect() on a UDP socket to these picks the outgoing interface without sending anything.
PRIVATE_PROBES = ("10.254.254.254", "172.16.254.254", "192.168.254.254")


def listens_beyond_loopback(host: str) -> bool:
    """Whether other machines can reach a server bound to ``host`` (the admin key's rule, ganlab.admin)."""
    return host not in LOOPBACK_HOSTS


def reachable_addresses(port: int, host: str) -> list[str]:
    """The URLs (``http://ADDRESS:PORT``) that other machines can open for a server bound to ``host``.

    A loopback or specific host is its own one answer; for every interface (``0.0.0.0``, ``::``) this
    machine's non-loopback IPv4 addresses, the likeliest first; none when it has no network.
    """
    if host not in EVERY_INTERFACE:
        return [_url(host, port)]
    return [_url(address, port) for address in local_ipv4_addresses()]


def local_ipv4_addresses() -> list[str]:
    """This machine's IPv4 addresses that another machine on its networks could reach."""
    found: list[str] = []
    for probe in PRIVATE_PROBES:
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                udp.connect((probe, 9))  # UDP: sets the default destination only; nothing is sent
                found.append(udp.getsockname()[0])
        except OSError:
            continue  # no route to that network
    try:
        found += [info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)]
    except OSError:
        pass  # the host name does not resolve
    usable = []
    for address in found:
        try:
            ip = ipaddress.IPv4Address(address)
        except ValueError:
            continue
        if not (ip.is_loopback or ip.is_link_local or ip.is_unspecified or ip.is_multicast) and address not in usable:
            usable.append(address)
    return usable


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host  # an IPv6 address
    return f"http://{shown}:{port}"


def join_url(base: str, quiz_code: str) -> str:
    """The link that opens quiz ``quiz_code``'s participant page on the app at ``base``: ``<base>/quiz/CODE``.
    A path under a proxy (``https://school.example/ganlab``) is kept; a query or fragment of ``base`` is not."""
    parts = urlsplit(base.strip())
    path = parts.path.rstrip("/") + "/quiz/" + quote(quiz_code.strip(), safe="")
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def join_bases(browser_base: str | None, listening_on: str) -> list[str]:
    """The app's addresses a student can open, to build join links on, the likeliest first.

    ``browser_base``: the address the person's browser used (``http://host:port``, from the request), or
    None. It is the answer unless it names this machine's loopback (``localhost``, ``127.0.0.1``) while the
    app listens beyond loopback (``listening_on``): then this machine's network addresses on that port.
    """
    if not browser_base:
        return []
    parts = urlsplit(browser_base)
    if parts.hostname not in (*LOOPBACK_HOSTS, "0.0.0.0") or not listens_beyond_loopback(listening_on):
        return [browser_base.rstrip("/")]
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:  # a port out of range: no address to build on
        return []
    path = parts.path.rstrip("/")
    found = [url + path for url in reachable_addresses(port, listening_on)]
    return found or [browser_base.rstrip("/")]  # no network address: the loopback one is still right here


def qr_svg(text: str, *, scale: int = 6, border: int = 4) -> str:
    """``text`` as a QR code in inline SVG: black modules on white, ``border`` modules of quiet zone (the
    standard's 4) and ``scale`` pixels a module (about 4 cm across for a join link: a phone reads it off a
    projector or a laptop's screen); the viewBox lets CSS make it bigger."""
    import segno  # imported here: only the classroom's header needs it

    code = segno.make(text, error="m", micro=False)
    buffer = io.BytesIO()
    code.save(
        buffer,
        kind="svg",
        xmldecl=False,
        svgns=True,
        nl=False,
        scale=scale,
        border=border,
        dark="#000000",
        light="#ffffff",
        omitsize=True,
        svgclass="ganlab-qr",
        lineclass=None,
        title=text,
    )
    size = (code.symbol_size(scale=scale, border=border))[0]
    # omitsize gives a viewBox (the picture scales); the size in pixels makes it that big by default.
    return buffer.getvalue().decode("utf-8").replace("<svg ", f'<svg width="{size}" height="{size}" ', 1)


def classroom_markdown(port: int, host: str) -> str:
    """For the app's header when it listens beyond loopback: where students go, and a QR code of the first
    address (Markdown with inline SVG)."""
    urls = reachable_addresses(port, host)
    if not urls:
        return f"Students: open this computer's network address, port {port} (no network address was found)."
    others = "".join(f" or {url}" for url in urls[1:])
    return f"Students: open **{urls[0]}**{others}\n\n{qr_svg(urls[0])}"
