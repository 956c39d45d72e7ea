"""The model overview graph (ganlab.ui.graph): its structure, read back with an XML parser."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from ganlab.losses import OBJECTIVES
from ganlab.training import TrainingConfig
from ganlab.ui.graph import overview_svg
from ganlab.ui.graph_shapes import MISSING

SVG = "{http://www.w3.org/2000/svg}"
LATEST = dict(d_real=0.812, d_fake=0.431, d_loss=1.2345, g_loss=0.693, d_grad_norm=0.423, g_grad_norm=0.000123)


def config(**changes) -> dict:
    return dataclasses.asdict(TrainingConfig(**changes))


class Graph:
    """The parsed SVG: boxes by name, edges by (from, to)."""

    def __init__(self, svg: str) -> None:
        self.root = ET.fromstring(svg)
        groups = list(self.root.iter(f"{SVG}g"))
        self.nodes = {g.get("data-node"): g for g in groups if g.get("data-node")}
        self.edges = {(g.get("data-from"), g.get("data-to")): g for g in groups if g.get("data-from")}

    def text(self, element: ET.Element) -> str:
        return " ".join("".join(t.itertext()) for t in element.iter(f"{SVG}text"))

    def all_text(self) -> str:
        return self.text(self.root)

    def lit(self) -> set[tuple[str, str]]:
        return {key for key, edge in self.edges.items() if "lit" in edge.get("class").split()}

    @staticmethod
    def state(element: ET.Element) -> str:
        return element.get("class").split()[1]


def test_a_conditional_run_has_a_label_going_into_g_and_d():
    conditional = config(dataset="mnist", model="cdcgan")
    for run in (conditional, config(model="cmlp"), config(dataset="mnist", model="dcgan", clusters=50)):
        graph = Graph(overview_svg(run, LATEST))
        assert "y" in graph.nodes
        assert {("y", "G"), ("y", "D")} <= set(graph.edges)
    clustered = Graph(overview_svg(config(clusters="auto"), LATEST, clusters=8))
    assert "8 clusters" in clustered.text(clustered.nodes["y"])


def test_an_unconditional_run_has_no_label():
    graph = Graph(overview_svg(config(model="mlp", clusters=0), LATEST))
    assert "y" not in graph.nodes
    assert not [key for key in graph.edges if "y" in key]
    assert set(graph.edges) == {("z", "G"), ("G", "fake"), ("real", "D"), ("fake", "D"), ("D", "sigma"), ("sigma", "loss")}


@pytest.mark.parametrize("loss", sorted(OBJECTIVES))
def test_a_sigmoid_exactly_where_the_objective_reads_d_as_a_probability(loss):
    graph = Graph(overview_svg(config(loss=loss), LATEST))
    probability = OBJECTIVES[loss].d_output == "probability"
    assert ("sigma" in graph.nodes) is probability
    assert ("σ" in graph.all_text()) is probability
    assert graph.nodes["D"].get("data-reading") == OBJECTIVES[loss].d_output
    if not probability:
        assert ("D", "loss") in graph.edges and "raw score" in graph.text(graph.edges[("D", "loss")])


@pytest.mark.parametrize("loss", ["wgan", "wgan-gp"])
def test_wasserstein_d_is_a_critic_with_no_sigmoid(loss):
    graph = Graph(overview_svg(config(loss=loss), LATEST))
    d_box = graph.nodes["D"]
    assert "critic" in graph.text(d_box)
    assert "critic" in d_box.find(f"{SVG}title").text
    assert "sigmoid" not in graph.text(d_box)
    assert "sigma" not in graph.nodes
    usual = Graph(overview_svg(config(loss="nonsaturating"), LATEST))
    assert "critic" not in usual.text(usual.nodes["D"])


def test_a_d_move_lights_d_and_its_gradient_paths_and_not_g():
    graph = Graph(overview_svg(config(), LATEST, "d"))
    assert graph.lit() == {("real", "D"), ("fake", "D"), ("D", "sigma"), ("sigma", "loss")}
    assert graph.state(graph.nodes["D"]) == "lit"
    assert graph.state(graph.nodes["G"]) == "frozen"
    assert not [key for key in graph.lit() if "G" in key]
    critic = Graph(overview_svg(config(loss="wgan-gp"), LATEST, "d"))
    assert critic.lit() == {("real", "D"), ("fake", "D"), ("D", "loss")}


def test_a_g_move_lights_the_path_from_the_loss_into_g():
    graph = Graph(overview_svg(config(), LATEST, "g"))
    assert graph.lit() == {("sigma", "loss"), ("D", "sigma"), ("fake", "D"), ("G", "fake")}
    assert graph.state(graph.nodes["G"]) == "lit"
    assert graph.state(graph.nodes["D"]) == "frozen"
    assert ("real", "D") not in graph.lit()  # G's loss never sees real data
    assert graph.root.get("data-phase") == "g"


def test_training_shows_both_players_mildly():
    both = overview_svg(config(), LATEST, "both")
    assert overview_svg(config(), LATEST, None) == both
    graph = Graph(both)
    assert graph.lit() == set()
    assert graph.state(graph.nodes["D"]) == graph.state(graph.nodes["G"]) == "mild"
    with pytest.raises(ValueError, match="phase must be"):
        overview_svg(config(), LATEST, "x")


def test_the_numbers_sit_on_their_edges_and_boxes():
    graph = Graph(overview_svg(config(), LATEST, "d"))
    real = graph.edges[("real", "D")].find(f".//{SVG}text[@class='value']")
    fake = graph.edges[("fake", "D")].find(f".//{SVG}text[@class='value']")
    assert real.get("data-value") == "0.812" and "D(x)" in "".join(real.itertext())
    assert fake.get("data-value") == "0.431" and "D(G(z))" in "".join(fake.itertext())
    losses = {t.get("data-key"): t.get("data-value") for t in graph.nodes["loss"].iter(f"{SVG}text") if t.get("data-key")}
    assert losses == {"d_loss": "1.234", "g_loss": "0.693"}
    assert "0.423" in graph.text(graph.nodes["D"]) and "0.000123" in graph.text(graph.nodes["G"])
    for key in ("z", "G"):  # no numbers where they do not belong
        assert "0.812" not in graph.text(graph.nodes[key])
    assert "0.812" not in graph.text(graph.edges[("fake", "D")])


def test_missing_and_non_finite_numbers_show_as_a_dash():
    nan = float("nan")
    graph = Graph(overview_svg(config(), dict(d_real=nan, d_fake=float("inf"), d_loss=None, g_grad_norm=nan)))
    assert graph.edges[("real", "D")].find(f".//{SVG}text[@class='value']").get("data-value") == MISSING
    assert graph.edges[("fake", "D")].find(f".//{SVG}text[@class='value']").get("data-value") == MISSING
    assert "nan" not in graph.all_text().lower() and "inf" not in graph.all_text().lower()
    empty = Graph(overview_svg(config(), None))
    values = [t.get("data-value") for t in empty.root.iter(f"{SVG}text") if t.get("data-value") is not None]
    assert values and set(values) == {MISSING}


@pytest.mark.parametrize("run", [config(), config(dataset="mnist", model="cdcgan"), config(loss="wgan")])
def test_every_box_explains_itself(run):
    graph = Graph(overview_svg(run, LATEST))
    assert graph.root[0].tag == f"{SVG}title" and graph.root[0].text  # the figure's own description
    for name, node in graph.nodes.items():
        title = node[0]
        assert title.tag == f"{SVG}title", name
        assert title.text.endswith(".") and len(title.text) > 30, name
        assert node.get("data-explain") == title.text  # for a tap on a phone
    for key, edge in graph.edges.items():
        assert edge[0].tag == f"{SVG}title" and edge[0].text, key


def test_config_strings_are_escaped():
    hostile = "<script>alert('x')</script>&"
    run = config(dataset="custom")
    run["dataset"], run["loss"] = hostile, '<img src=x onerror="alert(1)">'
    svg = overview_svg(run, LATEST)
    assert "<script" not in svg and "<img" not in svg
    graph = Graph(svg)  # still well-formed
    assert hostile in graph.text(graph.nodes["real"])
    assert hostile in graph.nodes["real"].get("data-explain")
    assert graph.nodes["loss"].get("data-loss") == run["loss"]


def test_the_picture_scales_with_its_box():
    root = Graph(overview_svg(config(), LATEST)).root
    assert root.get("viewBox").startswith("0 0 ") and root.get("width") == "100%"
    sizes = [float(t.get("font-size")) for t in root.iter() if t.get("font-size")]
    assert min(sizes) >= 18  # readable from the back of a room


def test_graph_module_does_not_import_gradio():
    code = "import sys, ganlab.ui.graph, ganlab.share; sys.exit('gradio' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0
