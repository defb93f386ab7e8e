"""The simulated camera fleet: households, occupants, pets, scenes, and the pixels their cameras see.

The pipeline consumes only rendered frames and the owners' home/away mode changes; ground truth
(clipwarden.sim.truth) is for evaluation code only.
"""

from clipwarden.sim.config import SimConfig
from clipwarden.sim.fleet import SimFleet, build_fleet
from clipwarden.sim.planner import ActivityWindow

__all__ = ["ActivityWindow", "SimConfig", "SimFleet", "build_fleet"]
