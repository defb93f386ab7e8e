"""The sensitive-content screen: flags clips that likely show a private scene, before any person sees them.

It reads what a real backend has: the clip's pixels and the camera's placement. Four signals, each a
small function over a few frames a second, shrunk:

- skin: skin-coloured pixels in the moving foreground. Only what moves counts, because walls, floors and
  bedding under a warm lamp are skin-coloured too. The foreground is what differs from the background
  (the median frame, and the scene at the clip's start and at its end), worked out separately for each
  stretch of steady lighting so that a lamp switched on is not motion.
- people: two people close together for a sustained part of the clip (a person-tall foreground blob as
  wide as two people, or two person-tall blobs side by side); one person counts for less. Two people
  walking one behind the other make one blob, and infrared shows no skin, so a person alone in a dark
  bedroom is still worth a warning.
- light: a dark picture (low mean luma) or a night-vision one (infrared is grey: almost no chroma).
- bedroom: the camera's placement, from its registration.

The signals are weighed into a score in 0..1 and the clip is flagged at or above a threshold. The weights
and threshold lean towards recall: holding a harmless clip for its owner to confirm costs little, showing
an intimate one to a stranger is the failure this screen exists to prevent.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from clipwarden.media.sampling import sample_frames

Range = tuple[int, int]


@dataclass(frozen=True)
class ScreenSettings:
    samples_per_second: float = 2.0  # frames looked at per second of clip
    analysis_width: int = 160  # columns the frames are shrunk to (90 rows at 16:9)
    # Foreground: what differs from the background of its stretch of steady lighting.
    change_luma: int = 18  # luma difference that counts as changed (noise is ~1 after shrinking)
    change_chroma: int = 8  # the same for either chroma channel
    global_luma_shift: float = 6.0  # the typical pixel's luma moved this much between samples: light...
    global_chroma_shift: float = 3.0  # ...or either chroma did (lamplight to infrared's grey)
    global_change: float = 0.5  # a sample whose foreground covers more than this share is still settling
    min_steady_samples: int = 4  # a stretch of steady lighting shorter than this has no usable median
    edge_samples: int = 4  # samples at each end of a stretch whose median is a background too
    # Skin: YCrCb ranges of skin of every tone (Chai and Ngan), in OpenCV's full-range YCrCb.
    skin_cr: Range = (135, 175)
    skin_cb: Range = (80, 125)
    skin_min_luma: int = 20  # below this the chroma of a compressed frame is mostly noise
    skin_area: float = 0.005  # skin-coloured foreground, as a share of the frame, that is a large area...
    skin_share: float = 0.4  # ...when it is also at least this share of the moving foreground
    # People: blob sizes as shares of the frame height; widths compared in pixels.
    person_height: float = 0.3  # a blob at least this tall may be a person (a pet is not)
    pair_width: tuple[float, float] = (0.7, 1.6)  # width over height of a person-tall blob holding two
    pair_gap: float = 0.05  # two person-tall blobs closer than this (share of the frame width) are together
    people_seconds: float = 2.0  # seconds of samples people must be seen in to count fully (sustained)
    single_person: float = 0.75  # strength of one person, where two people together are 1
    # Light: mean luma (full range) below which a picture is dark; mean chroma below which it is infrared.
    dark_luma: float = 75.0
    infrared_chroma: float = 4.0
    # Combination: a weighted sum of the signals (each 0..1); flagged at or above the threshold. So a dark
    # bedroom (0.45) is held with skin or people in it; a bedroom by day, or a dark room elsewhere, with
    # skin and people; elsewhere by day nothing is (skin and two people, 0.6, is what sun patches crossing
    # a skin-coloured floor look like).
    weight_skin: float = 0.3
    weight_people: float = 0.3
    weight_light: float = 0.2
    weight_bedroom: float = 0.25
    threshold: float = 0.61


@dataclass(frozen=True)
class ScreenResult:
    flagged: bool
    score: float  # 0..1
    reasons: tuple[str, ...]  # the signals that fired, in plain words

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "reasons": list(self.reasons)}


@dataclass(frozen=True)
class Evidence:
    """Each signal's strength, 0..1, and whether the picture is infrared (which words the light reason)."""

    skin: float
    pair: float  # two people together
    person: float  # at least one person
    light: float
    bedroom: float
    infrared: bool


def screen_clip(data: bytes, placement: str, settings: ScreenSettings = ScreenSettings()) -> ScreenResult:
    """Screen one clip (its MP4 bytes) from a camera at ``placement``.

    Raises ClipwardenError if ``data`` is not a playable video.
    """
    samples = sample_frames(data, settings.samples_per_second, settings.analysis_width)
    return verdict(gather_evidence(samples, placement, settings), settings)


def gather_evidence(samples: list[np.ndarray], placement: str, settings: ScreenSettings) -> Evidence:
    """The signals from BGR samples of one clip."""
    frames = np.stack([cv2.cvtColor(sample, cv2.COLOR_BGR2YCrCb) for sample in samples])
    moving = foreground(frames, settings)
    dark, infrared = low_light(frames, settings)
    pair, person = people_signals(moving, settings)
    return Evidence(
        skin=skin_signal(frames, moving, settings),
        pair=pair,
        person=person,
        light=1.0 if dark or infrared else 0.0,
        bedroom=1.0 if placement == "bedroom" else 0.0,
        infrared=infrared,
    )


def verdict(evidence: Evidence, settings: ScreenSettings) -> ScreenResult:
    """Weigh the signals into a score; the reasons are the signals at half strength or more."""
    if evidence.pair >= settings.single_person * evidence.person:
        people, people_reason = evidence.pair, "two people close together"
    else:
        people, people_reason = settings.single_person * evidence.person, "a person in view"
    parts = (
        (evidence.skin, settings.weight_skin, "large skin-coloured area"),
        (people, settings.weight_people, people_reason),
        (evidence.light, settings.weight_light, "night vision" if evidence.infrared else "dark picture"),
        (evidence.bedroom, settings.weight_bedroom, "bedroom camera"),
    )
    score = round(min(1.0, sum(strength * weight for strength, weight, _ in parts)), 3)
    reasons = tuple(reason for strength, _, reason in parts if strength >= 0.5)
    return ScreenResult(flagged=score >= settings.threshold, score=score, reasons=reasons)


def foreground(frames: np.ndarray, settings: ScreenSettings) -> np.ndarray:
    """Per sample, the pixels that differ from the background of their stretch of steady lighting.

    ``frames`` is (samples, rows, columns, YCrCb) uint8; the result (samples, rows, columns) bool. A pixel is
    foreground where it differs from the stretch's median and from the medians of its first and of its last
    ``edge_samples``: the median alone turns a thing that stays most of the clip into a ghost wherever it
    is absent, but a thing that was there at the start or is there at the end matches one of those.
    Samples in stretches too short for a median, and samples mostly changed (a light being switched),
    get none.
    """
    moving = np.zeros(frames.shape[:3], bool)
    edge = settings.edge_samples
    for stretch in steady_stretches(frames, settings):
        if stretch.stop - stretch.start < settings.min_steady_samples:
            continue
        group = frames[stretch]
        changed = np.ones(group.shape[:3], bool)
        for reference in (group, group[:edge], group[-edge:]):
            changed &= _differs(group, np.median(reference, axis=0), settings)
        moving[stretch] = changed
    kernel = np.ones((3, 3), np.uint8)
    for index, mask in enumerate(moving):
        # Opening drops specks of noise and compression ringing along edges.
        opened = cv2.morphologyEx(mask.view(np.uint8), cv2.MORPH_OPEN, kernel)
        moving[index] = opened > 0 if opened.mean() <= settings.global_change else False
    return moving


def _differs(frames: np.ndarray, background: np.ndarray, settings: ScreenSettings) -> np.ndarray:
    reference = background.astype(np.uint8)
    # |a - b| in uint8 without overflow, several times faster than widening to int16.
    difference = np.maximum(frames, reference) - np.minimum(frames, reference)
    return (
        (difference[..., 0] > settings.change_luma)
        | (difference[..., 1] > settings.change_chroma)
        | (difference[..., 2] > settings.change_chroma)
    )


def steady_stretches(frames: np.ndarray, settings: ScreenSettings) -> list[slice]:
    """Runs of samples with no change of the whole picture (a lamp, the camera switching to infrared).

    Light changes nearly every pixel at once, so the typical (median) pixel's change from one sample to
    the next tells it apart from anything that moves, however large. Every fourth pixel each way is
    plenty for a median, and a sixteenth of the work.
    """
    if len(frames) < 2:
        return [slice(0, len(frames))]
    sparse = frames[:, ::4, ::4].astype(np.int16)
    step = np.abs(np.diff(sparse, axis=0)).reshape(len(frames) - 1, -1, 3)
    typical = np.median(step, axis=1)
    jumps = (typical[:, 0] > settings.global_luma_shift) | (typical[:, 1:].max(axis=1) > settings.global_chroma_shift)
    cuts = [0, *(int(i) + 1 for i in np.flatnonzero(jumps)), len(frames)]
    return [slice(start, stop) for start, stop in itertools.pairwise(cuts) if stop > start]


def skin_signal(frames: np.ndarray, moving: np.ndarray, settings: ScreenSettings) -> float:
    """How large the largest skin-coloured moving area is, relative to ``skin_area`` (capped at 1).

    Only samples whose foreground is mostly skin count, so a person in a skin-coloured shirt or a
    sandy-coated dog stays small next to bare shoulders and arms.
    """
    y, cr, cb = frames[..., 0], frames[..., 1], frames[..., 2]
    skin = (
        (y >= settings.skin_min_luma)
        & (cr >= settings.skin_cr[0])
        & (cr <= settings.skin_cr[1])
        & (cb >= settings.skin_cb[0])
        & (cb <= settings.skin_cb[1])
    )
    pixels = moving[0].size
    skin_area = (skin & moving).reshape(len(frames), -1).sum(axis=1) / pixels
    moving_area = moving.reshape(len(frames), -1).sum(axis=1) / pixels
    mostly_skin = skin_area >= settings.skin_share * np.maximum(moving_area, 1e-9)
    largest = float(skin_area[mostly_skin].max(initial=0.0))
    return min(1.0, largest / settings.skin_area)


def people_signals(moving: np.ndarray, settings: ScreenSettings) -> tuple[float, float]:
    """(two people together, at least one person): how long each is seen, relative to ``people_seconds``."""
    needed = max(1.0, settings.people_seconds * settings.samples_per_second)
    pairs = persons = 0
    for mask in moving:
        if mask.any():
            count = people_in(mask, settings)
            pairs += count >= 2
            persons += count >= 1
    return min(1.0, pairs / needed), min(1.0, persons / needed)


def people_in(mask: np.ndarray, settings: ScreenSettings) -> int:
    """2 if one sample's foreground shows two people together, else 1 if it shows a person, else 0."""
    rows, columns = mask.shape
    tall = [box for box in bodies(mask) if box[3] >= settings.person_height * rows]
    low, high = settings.pair_width
    spans = sorted((x, x + w) for x, _, w, _ in tall)
    gap = settings.pair_gap * columns
    if any(low * h <= w <= high * h for _, _, w, h in tall) or any(
        b[0] - a[1] <= gap for a, b in itertools.pairwise(spans)
    ):
        return 2
    return min(len(tall), 1)


def bodies(mask: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Boxes (x, y, w, h) of the separate moving things in a foreground mask.

    Closing joins the nearby pieces of one body; pieces stacked one above the other (a torso that matches
    the wall between a head and legs that do not) are joined into one box.
    """
    closed = cv2.morphologyEx(mask.view(np.uint8), cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    _, _, stats, _ = cv2.connectedComponentsWithStats(closed)
    boxes: list[tuple[int, int, int, int]] = []
    for x, y, w, h, _ in sorted(stats[1:].tolist()):
        if boxes and _stacked(boxes[-1], (x, y, w, h)):
            bx, by, bw, bh = boxes.pop()
            x0, y0 = min(bx, x), min(by, y)
            x, y, w, h = x0, y0, max(bx + bw, x + w) - x0, max(by + bh, y + h) - y0
        boxes.append((x, y, w, h))
    return boxes


def _stacked(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    """Whether two boxes share at least half of the narrower one's columns."""
    overlap = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    return overlap >= 0.5 * min(a[2], b[2])


def low_light(frames: np.ndarray, settings: ScreenSettings) -> tuple[bool, bool]:
    """(dark, infrared) for the clip as a whole: its median sample's mean luma and mean chroma."""
    luma = float(np.median(frames[..., 0].mean(axis=(1, 2))))
    chroma = np.abs(frames[..., 1:].astype(np.int16) - 128).mean(axis=(1, 2, 3))
    return luma < settings.dark_luma, float(np.median(chroma)) < settings.infrared_chroma
