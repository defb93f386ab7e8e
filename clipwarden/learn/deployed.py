"""The camera AI the fleet runs: the deployed model, through the same ``CameraAi`` interface as the rules,
which stay its fallback for a clip it cannot read."""

from __future__ import annotations

from dataclasses import dataclass, field

from clipwarden.domain import AiVerdict, Camera
from clipwarden.errors import ClipwardenError
from clipwarden.learn.features import clip_features
from clipwarden.learn.models import ShardedModel
from clipwarden.learn.training import deployed_model
from clipwarden.media.camera_ai import CameraAi, Rules
from clipwarden.media.capture import CapturedClip
from clipwarden.store import Store


@dataclass(frozen=True)
class LearnedAi:
    """Labels a clip from the features of its MP4, as in training; alerts on an intruder, as the rules do."""

    model_id: str
    model: ShardedModel
    fallback: CameraAi = field(default_factory=Rules)

    def classify(self, captured: CapturedClip, camera: Camera, away: bool) -> AiVerdict:
        try:
            features = clip_features(captured.clip.data, camera, away)
        except ClipwardenError:
            return self.fallback.classify(captured, camera, away)
        [(label, confidence)] = self.model.predict(features)
        return AiVerdict(label, alert=label == "intruder", confidence=round(confidence, 3), model_id=self.model_id)


def fleet_ai(store: Store) -> CameraAi:
    """The deployed model, or the rules while none is; ModelRefused if its artefact was altered."""
    deployed = deployed_model(store)
    return Rules() if deployed is None else LearnedAi(*deployed)
