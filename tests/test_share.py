"""Bringing a class in (ganlab.share): reachable addresses, QR codes, quiz join links. No network traffic."""

from __future__ import annotations

import ipaddress
import re
import socket
import xml.etree.ElementTree as ET

import pytest
import segno

from ganlab import share
from ganlab.admin import LOOPBACK_HOSTS, AdminKey
from ganlab.share import (
    classroom_markdown,
    join_bases,
    join_url,
    listens_beyond_loopback,
    qr_svg,
    reachable_addresses,
)

SVG = "{http://www.w3.org/2000/svg}"


def drawn_modules(path: str, size: int, border: int) -> list[list[bool]]:
    """The dark modules of a segno SVG path (M/m moves, h draws a run along a row of half-integer y)."""
    dark = [[False] * size for _ in range(size)]
    x = y = 0.0
    for command, args in re.findall(r"([MmhHvVzZ])([^MmhHvVzZ]*)", path):
        numbers = [float(n) for n in args.replace(",", " ").split()]
        if command == "M":
            x, y = numbers
        elif command == "m":
            x, y = x + numbers[0], y + numbers[1]
        elif command == "h":
            row = int(y - 0.5) - border
            for column in range(int(x), int(x + numbers[0])):
                dark[row][column - border] = True
            x += numbers[0]
        else:
            raise AssertionError(f"unexpected path command {command!r}")
    return dark


@pytest.mark.parametrize("text", ["http://192.168.1.20:7860", "http://10.0.0.5:7860/?quiz=K3X9M2", "ü & <tag>"])
def test_the_qr_code_draws_segnos_encoding_of_the_text(text):
    svg = qr_svg(text, scale=6, border=4)
    root = ET.fromstring(svg)  # a well-formed SVG
    assert root.tag == f"{SVG}svg"
    expected = segno.make(text, error="m", micro=False)
    matrix = [[bool(bit) for bit in row] for row in expected.matrix]
    n = len(matrix)
    assert (n - 17) % 4 == 0  # a regular QR code (version (n - 17) / 4), not a micro one phones may not read
    side = (n + 2 * 4) * 6
    assert root.get("viewBox") == f"0 0 {side} {side}" and root.get("width") == str(side) == root.get("height")
    modules = [p for p in root.iter(f"{SVG}path") if p.get("stroke")]
    assert len(modules) == 1
    assert drawn_modules(modules[0].get("d"), n, border=4) == matrix
    finder = [row[:7] for row in matrix[:7]]  # the top-left finder pattern: a ring around a 3x3 block
    assert finder[0] == [True] * 7 and finder[1] == [True] + [False] * 5 + [True] and finder[3][2:5] == [True] * 3
    assert root.find(f"{SVG}title").text == text  # escaped in the markup, the text itself when read


def test_the_qr_code_has_a_white_quiet_zone():
    root = ET.fromstring(qr_svg("http://10.0.0.5:7860"))
    background = [p for p in root.iter(f"{SVG}path") if p.get("fill")]
    assert background and background[0].get("fill").lower() in ("#fff", "#ffffff")


@pytest.mark.parametrize("host", LOOPBACK_HOSTS)
def test_a_loopback_host_is_its_own_address(host, monkeypatch):
    monkeypatch.setattr(socket, "socket", None)  # no socket is opened for a named host
    expected = f"http://[{host}]:7860" if ":" in host else f"http://{host}:7860"
    assert reachable_addresses(7860, host) == [expected]
    assert not listens_beyond_loopback(host)


def test_a_specific_host_is_its_own_address():
    assert reachable_addresses(8000, "192.168.1.20") == ["http://192.168.1.20:8000"]
    assert reachable_addresses(8000, "fe80::1") == ["http://[fe80::1]:8000"]
    assert listens_beyond_loopback("0.0.0.0") and listens_beyond_loopback("192.168.1.20")


def test_the_rule_is_the_admin_keys():
    for host in (*LOOPBACK_HOSTS, "0.0.0.0", "10.0.0.5"):
        assert listens_beyond_loopback(host) == AdminKey("k", listening_on=host).required


class RouteOnly:
    """A UDP socket that knows a route to 10/8 only and refuses to send anything."""

    opened: list[tuple[int, int]] = []
    connected: list[tuple[str, int]] = []

    def __init__(self, family: int, kind: int) -> None:
        RouteOnly.opened.append((family, kind))
        self.peer: str | None = None

    def connect(self, address: tuple[str, int]) -> None:
        RouteOnly.connected.append(address)
        if not address[0].startswith("10."):
            raise OSError("Network is unreachable")
        self.peer = address[0]

    def getsockname(self) -> tuple[str, int]:
        return ("10.1.2.3", 40000)

    def send(self, *args) -> None:
        raise AssertionError("reachable_addresses must not send anything")

    sendto = sendall = send

    def __enter__(self) -> RouteOnly:
        return self

    def __exit__(self, *args) -> None:
        pass


def test_every_interface_means_this_machines_network_addresses(monkeypatch):
    RouteOnly.opened, RouteOnly.connected = [], []
    monkeypatch.setattr(socket, "socket", RouteOnly)
    monkeypatch.setattr(socket, "gethostname", lambda: "classroom-pc")
    resolved = ["127.0.1.1", "192.168.1.20", "169.254.7.7", "10.1.2.3"]
    monkeypatch.setattr(
        socket, "getaddrinfo", lambda name, port, family: [(family, socket.SOCK_STREAM, 6, "", (a, 0)) for a in resolved]
    )
    assert reachable_addresses(7860, "0.0.0.0") == ["http://10.1.2.3:7860", "http://192.168.1.20:7860"]
    assert set(RouteOnly.opened) == {(socket.AF_INET, socket.SOCK_DGRAM)}  # UDP: connect() sends no packet
    assert all(ipaddress.IPv4Address(host).is_private for host, _ in RouteOnly.connected)


def test_no_network_means_no_addresses(monkeypatch):
    def unreachable(*args):
        raise OSError("no network")

    monkeypatch.setattr(share, "PRIVATE_PROBES", ("10.254.254.254",))
    monkeypatch.setattr(socket.socket, "connect", unreachable)
    monkeypatch.setattr(socket, "getaddrinfo", unreachable)
    assert reachable_addresses(7860, "0.0.0.0") == []
    assert "no network address was found" in classroom_markdown(7860, "0.0.0.0")


def test_this_machines_addresses_are_not_loopback():
    for url in reachable_addresses(7860, "0.0.0.0"):  # whatever this machine has; nothing is sent
        assert re.fullmatch(r"http://\d+\.\d+\.\d+\.\d+:7860", url) and not url.startswith("http://127.")


def test_the_classroom_header_names_the_address_and_draws_its_qr_code(monkeypatch):
    monkeypatch.setattr(share, "local_ipv4_addresses", lambda: ["192.168.1.20", "10.1.2.3"])
    text = classroom_markdown(7861, "0.0.0.0")
    assert text.startswith("Students: open **http://192.168.1.20:7861** or http://10.1.2.3:7861")
    assert qr_svg("http://192.168.1.20:7861") in text


def test_join_url():
    assert join_url("http://192.168.1.20:7860", "K3X9M2") == "http://192.168.1.20:7860/quiz/K3X9M2"
    assert join_url("http://192.168.1.20:7860/", " K3X9M2 ") == "http://192.168.1.20:7860/quiz/K3X9M2"
    # behind a proxy: the path stays; the base's own query and fragment are no part of the link
    assert join_url("https://school.example/ganlab/?theme=dark#top", "NEW") == "https://school.example/ganlab/quiz/NEW"
    assert join_url("http://h:1", "a b/c") == "http://h:1/quiz/a%20b%2Fc"


def test_join_bases_keep_the_address_the_browser_used():
    assert join_bases("http://192.168.1.20:7860", "0.0.0.0") == ["http://192.168.1.20:7860"]
    assert join_bases("https://school.example/ganlab/", "127.0.0.1") == ["https://school.example/ganlab"]
    assert join_bases("http://127.0.0.1:7860", "127.0.0.1") == ["http://127.0.0.1:7860"]  # only this machine can join
    assert join_bases(None, "0.0.0.0") == []
    assert join_bases("http://localhost:99999", "0.0.0.0") == []  # no such port


def test_join_bases_replace_loopback_by_the_network_addresses(monkeypatch):
    monkeypatch.setattr(share, "local_ipv4_addresses", lambda: ["192.168.1.20", "10.1.2.3"])
    for local in ("http://127.0.0.1:7861", "http://localhost:7861/", "http://[::1]:7861"):
        assert join_bases(local, "0.0.0.0") == ["http://192.168.1.20:7861", "http://10.1.2.3:7861"]
    assert join_bases("http://localhost:7861", "192.168.1.20") == ["http://192.168.1.20:7861"]
    monkeypatch.setattr(share, "local_ipv4_addresses", lambda: [])
    assert join_bases("http://localhost:7861", "0.0.0.0") == ["http://localhost:7861"]
