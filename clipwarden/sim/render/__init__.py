"""Pixels for the simulated fleet: backdrops, figures, effects, and the window renderer."""

from clipwarden.sim.render import actors, effects  # noqa: F401  (register the built-in scene elements)
from clipwarden.sim.render.lighting import Lighting, lighting_for
from clipwarden.sim.render.renderer import WindowJob, render_window
from clipwarden.sim.render.stage import Stage

__all__ = ["Lighting", "Stage", "WindowJob", "lighting_for", "render_window"]
