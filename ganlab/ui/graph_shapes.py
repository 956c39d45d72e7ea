"""The shapes of the overview graph (ganlab.ui.graph): arrows, boxes, the sigmoid's circle and the loss box.

Each function returns one SVG fragment as a string; where a shape sits and what it says is decided in
ganlab.ui.graph. A shape's ``state`` says its part in the move shown: ``"lit"`` (the gradient's path,
glowing in the moving player's colour ``mover``), ``"mild"`` (both moves shown), ``"frozen"`` (the
player that waits) or ``"plain"`` / ``"idle"`` (only data). Every node carries its explanation twice:
an SVG ``<title>`` (the hover tooltip) and a ``data-explain`` attribute (shown on a tap).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from html import escape
from typing import Any

D_COLOUR = "#1f77b4"  # the app's colours: D (and the real data it learns) blue, G (and its samples) red
G_COLOUR = "#d62728"
D_TINT, D_TINT_LIT = "#deebf7", "#9ecae1"
G_TINT, G_TINT_LIT = "#fbe0e0", "#f4a3a3"
INK, QUIET = "#111111", "#6b6b6b"  # text and idle lines: both readable on white from the back of a room
MISSING = "–"


def number(value: Any) -> str:
    """A live number for a projector: 3 decimals in the usual range, 3 significant digits outside it."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return MISSING
    if value == 0:
        return "0"
    return f"{value:.3f}" if 0.01 <= abs(value) < 100 else f"{value:.3g}"


def esc(text: Any) -> str:
    return escape(str(text), quote=True)


def edge(
    source: str,
    target: str,
    points: list[tuple[float, float]],
    state: str,
    mover: str,
    explain: str,
    *,
    name: str | None = None,
    value: Any = None,
    note: str | None = None,
    label_at: tuple[float, float] | None = None,
) -> str:
    """An arrow from ``source`` to ``target`` along ``points``, lit with a glow in the moving player's colour."""
    path = " ".join(f"{x:g},{y:g}" for x, y in points)
    width, colour = {"lit": (4, INK), "mild": (3, "#333333"), "idle": (2.5, QUIET)}[state]
    out = [f'<g class="edge {state}" data-from="{source}" data-to="{target}"><title>{esc(explain)}</title>']
    if state == "lit":
        out.append(
            f'<polyline points="{path}" fill="none" stroke="{mover}" stroke-width="16" stroke-opacity="0.35" '
            'stroke-linejoin="round" stroke-linecap="round"/>'
        )
    out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="{width}" stroke-linejoin="round"/>')
    (x0, y0), (x1, y1) = points[-2], points[-1]
    length = math.hypot(x1 - x0, y1 - y0) or 1.0
    ux, uy = (x1 - x0) / length, (y1 - y0) / length
    size = 16
    left = (x1 - size * ux + size * 0.5 * uy, y1 - size * uy - size * 0.5 * ux)
    right = (x1 - size * ux - size * 0.5 * uy, y1 - size * uy + size * 0.5 * ux)
    out.append(f'<polygon points="{x1:g},{y1:g} {left[0]:.1f},{left[1]:.1f} {right[0]:.1f},{right[1]:.1f}" fill="{colour}"/>')
    x, y = label_at or (0, 0)
    halo = 'stroke="#ffffff" stroke-width="6" paint-order="stroke" stroke-linejoin="round"'
    if note is not None:  # a word on the edge
        out.append(f'<text x="{x:g}" y="{y:g}" font-size="18" text-anchor="middle" fill="{INK}" {halo}>{esc(note)}</text>')
    if name is not None:  # a live number: its name, and the value under it
        out.append(
            f'<text class="value" data-value="{esc(number(value))}" x="{x:g}" y="{y:g}" '
            f'text-anchor="middle" fill="{INK}" {halo}><tspan font-size="19">{esc(name)}</tspan>'
            f'<tspan x="{x:g}" dy="27" font-size="25" font-weight="bold">{esc(number(value))}</tspan></text>'
        )
    out.append("</g>")
    return "".join(out)


def _node_style(state: str, mover: str, player: str | None) -> tuple[str, str, str, str]:
    """(fill, stroke, stroke width, dash) of a box in ``state``; players keep their colour."""
    if player is not None:
        tint, tint_lit = (D_TINT, D_TINT_LIT) if player == D_COLOUR else (G_TINT, G_TINT_LIT)
        return {
            "lit": (tint_lit, player, "6", ""),
            "mild": (tint, player, "4", ""),
            "frozen": ("#f2f2f2", player, "3", ' stroke-dasharray="10 7"'),
            "plain": (tint, player, "3", ""),
        }[state]
    return {
        "lit": ("#ffffff", mover, "5", ""),
        "mild": ("#ffffff", "#333333", "3", ""),
        "frozen": ("#f2f2f2", "#333333", "3", ' stroke-dasharray="10 7"'),
        "plain": ("#ffffff", "#333333", "2.5", ""),
    }[state]


def _open_node(key: str, state: str, explain: str, data: Mapping[str, str] | None = None) -> str:
    extra = "".join(f' data-{name}="{esc(value)}"' for name, value in (data or {}).items())
    return (
        f'<g class="node {state}" data-node="{key}" data-explain="{esc(explain)}"{extra} style="cursor:help">'
        f"<title>{esc(explain)}</title>"
    )


def box(
    key: str,
    rect: tuple[float, float, float, float],
    state: str,
    mover: str,
    lines: list[str],
    explain: str,
    *,
    player: str | None = None,
    data: Mapping[str, str] | None = None,
) -> str:
    """A rounded box with a name (large for the players) and smaller lines under it."""
    x, y, w, h = rect
    fill, stroke, width, dash = _node_style(state, mover, player)
    out = [
        _open_node(key, state, explain, data),
        f'<rect x="{x:g}" y="{y:g}" width="{w:g}" height="{h:g}" rx="12" fill="{fill}" stroke="{stroke}" '
        f'stroke-width="{width}"{dash}/>',
    ]
    centre = x + w / 2
    if player is not None:  # G / D: a big letter, what it is, its gradient norm
        out.append(
            f'<text x="{centre:g}" y="{y + 44:g}" font-size="40" font-weight="bold" text-anchor="middle" '
            f'fill="{INK}">{esc(lines[0])}</text>'
        )
        sizes = (19, 21)
        for i, line in enumerate(lines[1:]):
            out.append(
                f'<text x="{centre:g}" y="{y + 76 + 30 * i:g}" font-size="{sizes[i]}" text-anchor="middle" '
                f'fill="{INK}">{esc(line)}</text>'
            )
        if state == "frozen":
            out.append(
                f'<text x="{centre:g}" y="{y - 10:g}" font-size="18" font-style="italic" text-anchor="middle" '
                f'fill="{INK}">frozen</text>'
            )
    else:
        out.append(
            f'<text x="{centre:g}" y="{y + h / 2 - 6:g}" font-size="23" font-weight="bold" text-anchor="middle" '
            f'fill="{INK}">{esc(lines[0])}</text>'
        )
        out.append(
            f'<text x="{centre:g}" y="{y + h / 2 + 22:g}" font-size="18" text-anchor="middle" fill="{INK}">{esc(lines[1])}</text>'
        )
    out.append("</g>")
    return "".join(out)


def circle(key: str, at: tuple[float, float, float], state: str, mover: str, symbol: str, explain: str) -> str:
    cx, cy, r = at
    fill, stroke, width, dash = _node_style(state, mover, None)
    return (
        f'{_open_node(key, state, explain)}<circle cx="{cx:g}" cy="{cy:g}" r="{r:g}" fill="{fill}" stroke="{stroke}" '
        f'stroke-width="{width}"{dash}/><text x="{cx:g}" y="{cy + 10:g}" font-size="30" text-anchor="middle" '
        f'fill="{INK}">{esc(symbol)}</text></g>'
    )


def loss_box(
    rect: tuple[float, float, float, float], state: str, mover: str, loss: str, latest: Mapping[str, Any], explain: str
) -> str:
    """The objective: its name and the two players' losses, each in its player's colour."""
    x, y, w, h = rect
    fill, stroke, width, dash = _node_style(state, mover, None)
    centre = x + w / 2
    rows = [("D", "d_loss", D_COLOUR, y + 104), ("G", "g_loss", G_COLOUR, y + 146)]
    out = [
        _open_node("loss", state, explain, {"loss": loss}),
        f'<rect x="{x:g}" y="{y:g}" width="{w:g}" height="{h:g}" rx="12" fill="{fill}" stroke="{stroke}" '
        f'stroke-width="{width}"{dash}/>',
        f'<text x="{centre:g}" y="{y + 34:g}" font-size="23" font-weight="bold" text-anchor="middle" fill="{INK}">loss</text>',
        f'<text x="{centre:g}" y="{y + 62:g}" font-size="18" text-anchor="middle" fill="{INK}">{esc(loss)}</text>',
    ]
    for player, key, colour, baseline in rows:
        shown = number(latest.get(key))
        out.append(
            f'<text class="value" data-key="{key}" data-value="{esc(shown)}" x="{x + 14:g}" y="{baseline:g}" '
            f'font-size="22" fill="{INK}"><tspan fill="{colour}" font-weight="bold">{player}</tspan> '
            f'<tspan font-weight="bold">{esc(shown)}</tspan></text>'
        )
    out.append("</g>")
    return "".join(out)
