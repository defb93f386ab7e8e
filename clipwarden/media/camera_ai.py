"""The camera's own AI: a label for a clip from the shapes of its motion regions, and whether to alert.

An honest baseline, deliberately simple: it reads only the motion track (never the pixels' meaning, never
ground truth). Each frame with motion votes by the shape of its largest region, tall for a person, wide
for a vehicle, small and low for a pet; the clip takes the majority. It raises false alarms on pets and
light, as the reported camera did; that is what the learning loop downstream is for.
"""

from __future__ import annotations

from collections import Counter
from typing import Literal, Protocol

from clipwarden.domain import AiVerdict, Camera, Label
from clipwarden.media.capture import CapturedClip, MotionTrack
from clipwarden.media.motion import Box

MIN_MOTION_S = 1.0  # less motion than this in a clip is nothing much
SCATTERED_REGIONS = 4  # more regions than this in a typical motion frame: rain, leaves, insects
PERSON_HEIGHT = 0.3  # a person's region is at least this share of the frame height...
PERSON_ASPECT = 1.2  # ...and taller than wide by this factor (in pixels)
VEHICLE_WIDTH = 0.25  # a vehicle's region is at least this share of the frame width...
VEHICLE_ASPECT = 0.8  # ...and no taller than this factor of its width (outdoor cameras only)
PET_HEIGHT = 0.25  # a pet's region is under this share of the frame height...
PET_FLOOR = 0.5  # ...and reaches below this height (0 = top), since pets move near the floor
RULE_CONFIDENCE = 0.6  # of a verdict from a fixed rule rather than from the frames' votes

Reading = Literal["person", "vehicle", "pet", "environment", "no_event"]


class CameraAi(Protocol):
    """What the fleet asks of a camera AI, the rules or a learned model: a verdict on one captured clip."""

    def classify(self, captured: CapturedClip, camera: Camera, away: bool) -> AiVerdict: ...


class Rules:
    """The rules below as a ``CameraAi``: the fleet's AI until a model is deployed, and its fallback."""

    def classify(self, captured: CapturedClip, camera: Camera, away: bool) -> AiVerdict:
        return classify(captured.track, camera, away)


def classify(track: MotionTrack, camera: Camera, away: bool) -> AiVerdict:
    """The camera AI's verdict on one clip; it alerts on a person while the household is away."""
    reading, confidence = _read_motion(track, camera)
    label: Label
    if reading == "person":
        label = "intruder" if away else ("visitor" if camera.placement == "entrance" else "resident")
    else:
        label = reading
    return AiVerdict(label=label, alert=label == "intruder", confidence=round(confidence, 3))


def _read_motion(track: MotionTrack, camera: Camera) -> tuple[Reading, float]:
    moving = [boxes for boxes in track.boxes if boxes]
    if len(moving) < MIN_MOTION_S * track.fps:
        # A clip with a lighting change and little else is the light; one with nothing is nothing.
        return ("environment" if any(track.global_change) else "no_event"), RULE_CONFIDENCE
    regions = sorted(len(boxes) for boxes in moving)
    if regions[len(regions) // 2] > SCATTERED_REGIONS:
        return "environment", RULE_CONFIDENCE
    votes = Counter(_shape(max(boxes, key=lambda b: b.w * b.h), camera) for boxes in moving)
    shape, count = votes.most_common(1)[0]
    return shape, count / len(moving)


def _shape(box: Box, camera: Camera) -> Reading:
    """One frame's vote: person, vehicle, pet, or environment for a shape that is none of them."""
    aspect = (box.h * camera.height) / max(box.w * camera.width, 1e-9)  # height over width, in pixels
    if box.h >= PERSON_HEIGHT and aspect >= PERSON_ASPECT:
        return "person"
    if camera.outdoor and box.w >= VEHICLE_WIDTH and aspect <= VEHICLE_ASPECT:
        return "vehicle"
    if box.h < PET_HEIGHT and box.y + box.h >= PET_FLOOR:
        return "pet"
    return "environment"
