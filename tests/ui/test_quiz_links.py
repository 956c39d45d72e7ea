"""The join link a new quiz shows: built on the address the owner's browser used, or on this machine's network
addresses when that was loopback and the class can reach the app; never on a made-up Host header."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from ganlab import share
from ganlab.ui.quiz_create import join_link_markdown, join_links
from ganlab.ui.quiz_support import browser_base


def request(**headers):
    return SimpleNamespace(headers=headers)


def test_the_link_uses_the_address_the_browser_used():
    assert join_links("K3X9M2", request(host="192.168.1.20:7860"), "0.0.0.0") == ["http://192.168.1.20:7860/quiz/K3X9M2"]
    behind_proxy = request(host="127.0.0.1:7860", **{"x-forwarded-host": "school.example", "x-forwarded-proto": "https"})
    assert join_links("K3X9M2", behind_proxy, "127.0.0.1") == ["https://school.example/quiz/K3X9M2"]
    assert join_links("K3X9M2", None, "0.0.0.0") == []


def test_a_loopback_address_becomes_the_network_addresses_when_the_class_can_reach_the_app(monkeypatch):
    monkeypatch.setattr(share, "local_ipv4_addresses", lambda: ["10.0.0.7"])
    assert join_links("K3X9M2", request(host="localhost:7861"), "0.0.0.0") == ["http://10.0.0.7:7861/quiz/K3X9M2"]
    assert join_links("K3X9M2", request(host="localhost:7861"), "127.0.0.1") == ["http://localhost:7861/quiz/K3X9M2"]


@pytest.mark.parametrize("host", ["evil.example/<script>", "a b", "x:1:2", "", "[::1"])
def test_a_made_up_host_header_gives_no_link(host):
    assert browser_base(request(host=host)) is None


def test_the_created_message_shows_the_link_and_its_qr_code():
    text = join_link_markdown(["http://10.0.0.7:7861/quiz/K3X9M2", "http://192.168.1.4:7861/quiz/K3X9M2"])
    assert "**http://10.0.0.7:7861/quiz/K3X9M2** or http://192.168.1.4:7861/quiz/K3X9M2" in text
    assert share.qr_svg("http://10.0.0.7:7861/quiz/K3X9M2") in text
    assert "<svg" not in join_link_markdown([]) and "Take a quiz" in join_link_markdown([])
