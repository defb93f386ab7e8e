"""DESIGN invariant 7: the pipeline never reads the simulator's ground truth.

Two checks: a static one over the source (who imports what), and a behavioural one (a fleet run whose
ground truth explodes when touched still stores its clips).
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest

import clipwarden

PACKAGE = Path(clipwarden.__file__).parent
# Evaluation code and the simulator itself are the only readers of ground truth.
TRUTH_READERS = {"sim", "learn/evaluate.py"}
# Stages of the real pipeline that must not even know a simulator exists.
SIM_FREE = {"media", "store", "services", "consent", "policy", "audit", "review", "web"}
# The layers, lowest first (DESIGN.md): a module may import its own layer and those below, never above.
LAYERS = {
    **dict.fromkeys(("domain", "errors", "times", "signing"), 0),
    **dict.fromkeys(("store", "media"), 1),
    "consent": 2,
    "audit": 3,
    "policy": 4,
    "review": 5,
    "services": 6,
    **dict.fromkeys(("learn", "report", "sim"), 7),
    **dict.fromkeys(("pipeline", "web"), 8),
    "cli": 9,
}


def _modules() -> list[tuple[str, ast.Module]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        found.append((relative, ast.parse(path.read_text(encoding="utf-8"), filename=relative)))
    return found


def _imports(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _layer(name: str) -> int | None:
    """The layer of a module path (``review/queue.py``) or a dotted name (``clipwarden.review.queue``)."""
    parts = name.removeprefix("clipwarden.").replace("/", ".").split(".")
    return LAYERS.get(parts[0].removesuffix(".py") if "/" in name else parts[0])


def _reads_truth(relative: str) -> bool:
    return relative.startswith("sim/") or relative in TRUTH_READERS


def test_only_evaluation_and_the_simulator_touch_ground_truth() -> None:
    offenders = []
    for relative, tree in _modules():
        if _reads_truth(relative):
            continue
        if any(name.startswith("clipwarden.sim.truth") for name in _imports(tree)):
            offenders.append(f"{relative} imports clipwarden.sim.truth")
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr == "truth":
                offenders.append(f"{relative}:{node.lineno} reads .truth")
            if isinstance(node, ast.Name) and node.id == "TruthEvent":
                offenders.append(f"{relative}:{node.lineno} names TruthEvent")
    assert offenders == []


def test_pipeline_stages_do_not_import_the_simulator() -> None:
    offenders = [
        relative
        for relative, tree in _modules()
        if relative.split("/")[0] in SIM_FREE and any(name.startswith("clipwarden.sim") for name in _imports(tree))
    ]
    assert offenders == []


def test_a_fleet_run_never_asks_for_ground_truth(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from clipwarden.cli import main
    from clipwarden.sim import SimFleet

    def forbidden(self: SimFleet) -> None:
        raise AssertionError("the pipeline read ground truth")

    monkeypatch.setattr(SimFleet, "truth", forbidden)
    argv = ["--data", str(tmp_path), "--json", "simulate", "--households", "1", "--cameras", "1"]
    assert main([*argv, "--hours", "3", "--workers", "1"]) == 0
    assert json.loads(capsys.readouterr().out)["clips"] >= 1


def test_lower_layers_never_import_upper_ones() -> None:
    offenders = []
    for relative, tree in _modules():
        own = _layer(relative)
        if own is None:  # the package's own __init__ and __main__
            continue
        for name in _imports(tree):
            imported = _layer(name) if name.startswith("clipwarden.") else None
            if imported is not None and imported > own:
                offenders.append(f"{relative} imports {name}")
    assert offenders == []


def test_evaluation_reads_ground_truth_in_learn_evaluate_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`models evaluate` scores against the truth; every read of it comes from learn/evaluate.py."""
    import sys

    from clipwarden.cli import main
    from clipwarden.sim import SimFleet

    readers: list[str] = []
    truth = SimFleet.truth

    def recorded(self: SimFleet) -> Any:
        readers.append(Path(sys._getframe(1).f_code.co_filename).relative_to(PACKAGE).as_posix())
        return truth(self)

    monkeypatch.setattr(SimFleet, "truth", recorded)
    argv = ["--data", str(tmp_path), "--json", "models", "evaluate", "rules", "--seed", "101"]
    assert main([*argv, "--households", "1", "--hours", "3", "--workers", "1"]) == 0
    assert json.loads(capsys.readouterr().out)["clips"] >= 1
    assert readers and set(readers) == {"learn/evaluate.py"}
