"""The camera AI the fleet runs: the deployed model, through the same ``CameraAi`` interface as the rules,
which label the fleet's clips while no model is deployed (or the deployed one is being unlearned)."""

from __future__ import annotations

from dataclasses import dataclass

from clipwarden.domain import AiVerdict, Camera
from clipwarden.learn.features import summarise
from clipwarden.learn.models import ShardedModel
from clipwarden.learn.training import deployed_model
from clipwarden.media.camera_ai import CameraAi, Rules
from clipwarden.media.capture import CapturedClip
from clipwarden.store import Store


@dataclass(frozen=True)
class LearnedAi:
    """Labels a clip from the features of the track its capture recorded, as training reads them from the
    store; alerts on an intruder, as the rules do. Nothing is decoded."""

    model_id: str
    model: ShardedModel

    def classify(self, captured: CapturedClip, camera: Camera, away: bool) -> AiVerdict:
        [(label, confidence)] = self.model.predict(summarise(captured.track, camera, away))
        return AiVerdict(label, alert=label == "intruder", confidence=round(confidence, 3), model_id=self.model_id)


def fleet_ai(store: Store) -> CameraAi:
    """The deployed model, or the rules while none is; ModelRefused if its artefact was altered."""
    deployed = deployed_model(store)
    return Rules() if deployed is None else LearnedAi(*deployed)
