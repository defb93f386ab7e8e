"""Stage: one camera's view at one resolution: the layout in pixels, and how big things are by depth."""

from __future__ import annotations

from dataclasses import dataclass

from clipwarden.sim.layout import Point, SceneLayout


@dataclass(frozen=True)
class Stage:
    width: int
    height: int
    fps: int
    seed: int
    camera_id: str
    layout: SceneLayout

    def px(self, point: Point) -> tuple[float, float]:
        return (point[0] * self.width, point[1] * self.height)

    def person_height(self, y_px: float) -> float:
        """Pixel height of a standing adult whose feet are at ``y_px``."""
        return self.layout.scale_at(y_px / self.height) * self.height
