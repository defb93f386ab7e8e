"""Dataset exports, the pure part: what an exported item holds (its label, boxes and segments, in frames),
and the documents each outside tool reads: CVAT for video 1.1 XML, Label Studio tasks with their labeling
config, and COCO.

Nothing here reads a database, a clock or a file: ``learn/exports.py`` gathers each item's facts, renders its
media and writes these documents. Boxes are fractions of the frame (``media.motion.Box``) until a writer turns
them into the unit its format wants (pixels for CVAT and COCO, percent for Label Studio).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from clipwarden.domain import LABELS
from clipwarden.media.motion import Box

Format = Literal["cvat-video", "label-studio", "coco"]
FORMATS: tuple[Format, ...] = ("cvat-video", "label-studio", "coco")
Source = Literal["reviewer", "motion"]
MOTION_MODEL = "clipwarden-motion-detector"  # how Label Studio names the machine that made a prediction
LINK_IOU = 0.1  # overlap of two frames' motion regions that makes them one moving thing
KEYFRAMES_PER_ITEM = 8  # COCO images per item at most, where the motion detector drew the boxes


@dataclass(frozen=True)
class Track:
    """One thing followed through a clip: reviewer-drawn boxes of one answer, or one motion region."""

    label: str
    source: Source
    boxes: tuple[tuple[int, Box], ...]  # (frame, box), frames ascending

    @property
    def machine_made(self) -> bool:
        return self.source == "motion"


@dataclass(frozen=True)
class Segment:
    """A stretch of the clip a reviewer labelled: frames ``start`` to ``end``, both included."""

    label: str
    start: int
    end: int


@dataclass(frozen=True)
class ExportItem:
    item_id: str
    label: str
    confidence: float
    redacted: bool
    video: str  # the clip's path inside the export, relative to its root
    width: int
    height: int
    fps: int
    frames: int
    tracks: tuple[Track, ...]
    segments: tuple[Segment, ...]


# From the stored facts to tracks and segments


def reviewer_tracks(answers: Sequence[tuple[str, Sequence[Mapping[str, float]]]], fps: int, frames: int) -> list[Track]:
    """One track per reviewer answer that drew boxes: ``answers`` are (the answer's label, its boxes)."""
    tracks = []
    for label, boxes in answers:
        placed = sorted(
            (_frame_at(box["t_s"], fps, frames), Box(box["x"], box["y"], box["w"], box["h"])) for box in boxes
        )
        deduplicated = tuple({frame: box for frame, box in placed}.items())  # one box per frame: the last drawn
        if deduplicated:
            tracks.append(Track(label, "reviewer", deduplicated))
    return tracks


def motion_tracks(per_frame: Sequence[Sequence[Box]], label: str) -> list[Track]:
    """The motion detector's regions linked frame to frame by overlap (greedy, largest first): each region
    continues the track whose last box, in the frame before, it overlaps most; else it starts a new track."""
    finished: list[list[tuple[int, Box]]] = []
    open_tracks: list[list[tuple[int, Box]]] = []
    for frame, regions in enumerate(per_frame):
        continuing: list[list[tuple[int, Box]]] = []
        for region in sorted(regions, key=lambda b: b.w * b.h, reverse=True):
            best = max(open_tracks, key=lambda track: iou(track[-1][1], region), default=None)
            if best is not None and iou(best[-1][1], region) >= LINK_IOU:
                open_tracks.remove(best)
                best.append((frame, region))
                continuing.append(best)
            else:
                continuing.append([(frame, region)])
        finished.extend(open_tracks)  # not seen in this frame: the track ended
        open_tracks = continuing
    finished.extend(open_tracks)
    finished.sort(key=lambda track: track[0])  # by first frame, then by where the track began
    return [Track(label, "motion", tuple(track)) for track in finished]


def segments_of(answers: Sequence[Sequence[Mapping[str, Any]]], fps: int, frames: int) -> list[Segment]:
    """Every reviewer's segments (seconds) as frame ranges, duplicates once, in time order."""
    found = set()
    for segments in answers:
        for segment in segments:
            start = _frame_at(segment["start_s"], fps, frames)
            end = min(frames - 1, max(start, round(float(segment["end_s"]) * fps) - 1))  # end_s is exclusive
            found.add(Segment(str(segment["label"]), start, end))
    return sorted(found, key=lambda s: (s.start, s.end, s.label))


def keyframes(item: ExportItem, limit: int = KEYFRAMES_PER_ITEM) -> list[int]:
    """The frames COCO gets as images: every frame a reviewer drew a box on; where only the motion detector
    did, one frame a second of motion, spread evenly over the moving frames, ``limit`` at most."""
    drawn = sorted({frame for track in item.tracks if not track.machine_made for frame, _ in track.boxes})
    if drawn:
        return drawn
    moving = sorted({frame for track in item.tracks for frame, _ in track.boxes})
    if not moving:
        return []
    wanted = min(limit, max(1, len(moving) // max(item.fps, 1)))
    if wanted == 1:
        return [moving[len(moving) // 2]]
    return sorted({moving[round(i * (len(moving) - 1) / (wanted - 1))] for i in range(wanted)})


def iou(a: Box, b: Box) -> float:
    across = max(0.0, min(a.x + a.w, b.x + b.w) - max(a.x, b.x))
    down = max(0.0, min(a.y + a.h, b.y + b.h) - max(a.y, b.y))
    overlap = across * down
    union = a.w * a.h + b.w * b.h - overlap
    return overlap / union if union > 0 else 0.0


def _frame_at(seconds: float, fps: int, frames: int) -> int:
    return min(max(frames - 1, 0), max(0, round(float(seconds) * fps)))


# CVAT for video 1.1


def cvat_video(item: ExportItem, export_id: str) -> bytes:
    """One task's annotations: a track per box track (``source`` "auto" where the motion detector drew it,
    "manual" where a reviewer did), each box carrying the clip's label (``clip_label``), the reviewer segment
    its frame lies in (``segment``, "none" outside them) and ``machine_made``.

    The clip's label and segments are attributes rather than CVAT ``<tag>`` elements: datumaro's CVAT importer
    reads tags only in the image format's ``<image>`` elements and fails on a video file's frame tags.
    """
    root = ET.Element("annotations")
    ET.SubElement(root, "version").text = "1.1"
    _cvat_meta(ET.SubElement(root, "meta"), item, export_id)
    for number, track in enumerate(item.tracks):
        _cvat_track(root, number, track, item)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def segment_at(segments: Sequence[Segment], frame: int) -> str:
    """The label of the first reviewer segment that holds ``frame``, or "none"."""
    return next((segment.label for segment in segments if segment.start <= frame <= segment.end), "none")


def _cvat_meta(meta: ET.Element, item: ExportItem, export_id: str) -> None:
    task = ET.SubElement(meta, "task")
    fields = {
        "id": "1",
        "name": item.item_id,
        "size": str(item.frames),
        "mode": "interpolation",
        "overlap": "0",
        "start_frame": "0",
        "stop_frame": str(item.frames - 1),
        "frame_filter": "",
    }
    for name, value in fields.items():
        ET.SubElement(task, name).text = value
    labels = ET.SubElement(task, "labels")
    for name in LABELS:
        label = ET.SubElement(labels, "label")
        ET.SubElement(label, "name").text = name
        attributes = ET.SubElement(label, "attributes")
        for spec in _cvat_attributes():
            attribute = ET.SubElement(attributes, "attribute")
            for key, value in spec.items():
                ET.SubElement(attribute, key).text = value
    size = ET.SubElement(task, "original_size")
    ET.SubElement(size, "width").text = str(item.width)
    ET.SubElement(size, "height").text = str(item.height)
    ET.SubElement(task, "source").text = item.video
    ET.SubElement(meta, "dumped").text = export_id


def _cvat_attributes() -> list[dict[str, str]]:
    """Every label's attributes: the clip's label, the reviewer segment a box lies in, and who drew it."""
    labels = "\n".join(LABELS)
    specs = [
        ("clip_label", "select", LABELS[0], labels),
        ("segment", "select", "none", "none\n" + labels),
        ("machine_made", "checkbox", "false", "false"),
    ]
    return [
        {"name": name, "mutable": "True", "input_type": kind, "default_value": default, "values": values}
        for name, kind, default, values in specs
    ]


def _cvat_track(root: ET.Element, number: int, track: Track, item: ExportItem) -> None:
    """A CVAT track: a keyframe box at each frame that has one, and an ``outside`` box after a gap or the end,
    so that CVAT does not interpolate across frames where nothing was seen."""
    element = ET.SubElement(
        root, "track", id=str(number), label=track.label, source="auto" if track.machine_made else "manual"
    )
    frames_with_box = {frame for frame, _ in track.boxes}
    for frame, box in track.boxes:
        _cvat_box(element, frame, box, item, outside=False, track=track)
        after = frame + 1
        # A reviewer's boxes are keyframes of one thing: CVAT interpolates between them. Motion boxes are
        # seen frame by frame, so a frame without one is a gap.
        gap = track.machine_made and after not in frames_with_box
        if after < item.frames and (gap or frame == track.boxes[-1][0]):
            _cvat_box(element, after, box, item, outside=True, track=track)


def _cvat_box(parent: ET.Element, frame: int, box: Box, item: ExportItem, *, outside: bool, track: Track) -> None:
    x, y, w, h = _pixels(box, item.width, item.height)
    element = ET.SubElement(
        parent,
        "box",
        frame=str(frame),
        keyframe="1",
        outside="1" if outside else "0",
        occluded="0",
        xtl=f"{x:.2f}",
        ytl=f"{y:.2f}",
        xbr=f"{x + w:.2f}",
        ybr=f"{y + h:.2f}",
        z_order="0",
    )
    _attributes(
        element,
        clip_label=item.label,
        segment=segment_at(item.segments, frame),
        machine_made=str(track.machine_made).lower(),
    )


def _attributes(parent: ET.Element, **values: str) -> None:
    for name, value in values.items():
        ET.SubElement(parent, "attribute", name=name).text = value


# Label Studio


def label_studio_config(fps: int) -> str:
    """The labeling config the tasks are made for: the clip's label (choices), reviewer segments (timeline
    labels) and boxes through the video (video rectangles with their labels)."""
    view = ET.Element("View")
    ET.SubElement(view, "Video", name="video", value="$video", frameRate=str(fps))
    choices = ET.SubElement(view, "Choices", name="label", toName="video", choice="single")
    timeline = ET.SubElement(view, "TimelineLabels", name="segments", toName="video")
    box_labels = ET.SubElement(view, "Labels", name="box_label", toName="video")
    for name in LABELS:
        ET.SubElement(choices, "Choice", value=name)
        ET.SubElement(timeline, "Label", value=name)
        ET.SubElement(box_labels, "Label", value=name)
    ET.SubElement(view, "VideoRectangle", name="box", toName="video")
    ET.indent(view)
    return ET.tostring(view, encoding="unicode")


def label_studio_task(item: ExportItem, export_id: str) -> dict[str, Any]:
    """One task: the clip, the reviewers' work as an annotation (the consolidated label, their segments and
    boxes) and the motion detector's boxes as a prediction (machine-made, so a person checks it)."""
    reviewer = [_ls_choice(item.label)]
    reviewer += [_ls_segment(segment) for segment in item.segments]
    reviewer += [_ls_track(track, item, n) for n, track in enumerate(item.tracks) if not track.machine_made]
    motion = [_ls_track(track, item, n) for n, track in enumerate(item.tracks) if track.machine_made]
    task: dict[str, Any] = {
        "data": {"video": item.video, "item_id": item.item_id, "export_id": export_id, "redacted": item.redacted},
        "annotations": [{"result": reviewer, "ground_truth": False}],
        "predictions": [{"model_version": MOTION_MODEL, "result": motion}] if motion else [],
    }
    return task


def _ls_choice(label: str) -> dict[str, Any]:
    return {"id": "label", "from_name": "label", "to_name": "video", "type": "choices", "value": {"choices": [label]}}


def _ls_segment(segment: Segment) -> dict[str, Any]:
    return {
        "id": f"seg{segment.start}-{segment.end}-{segment.label}",
        "from_name": "segments",
        "to_name": "video",
        "type": "timelinelabels",
        # Label Studio counts frames from 1.
        "value": {"ranges": [{"start": segment.start + 1, "end": segment.end + 1}], "timelinelabels": [segment.label]},
    }


def _ls_track(track: Track, item: ExportItem, number: int) -> dict[str, Any]:
    sequence = []
    for index, (frame, box) in enumerate(track.boxes):
        last = index == len(track.boxes) - 1
        # Motion boxes are seen frame by frame: a frame without one ends the stretch (``enabled`` false).
        gap = track.machine_made and (last or track.boxes[index + 1][0] != frame + 1)
        sequence.append(
            {
                "frame": frame + 1,
                "time": round(frame / item.fps, 4),
                "x": round(100 * box.x, 4),
                "y": round(100 * box.y, 4),
                "width": round(100 * box.w, 4),
                "height": round(100 * box.h, 4),
                "rotation": 0,
                "enabled": not (gap or last),
            }
        )
    return {
        "id": f"track{number}",
        "from_name": "box",
        "to_name": "video",
        "type": "videorectangle",
        "origin": "prediction" if track.machine_made else "manual",
        "value": {
            "framesCount": item.frames,
            "duration": round(item.frames / item.fps, 4),
            "sequence": sequence,
            "labels": [track.label],
        },
        "meta": {"machine_made": track.machine_made, "source": track.source},
    }


# COCO


def coco(items: Sequence[ExportItem], images: Mapping[tuple[str, int], str], export_id: str) -> dict[str, Any]:
    """COCO instances: an image per keyframe (``images``: (item id, frame) -> file name), a category per
    label, a bounding box (pixels) per box on a keyframe; attributes say whether a machine made it."""
    categories: dict[str, int] = {name: number for number, name in enumerate(LABELS, start=1)}
    document: dict[str, Any] = {
        "info": {"description": f"clipwarden dataset export {export_id}", "version": "1.0"},
        "licenses": [],
        "categories": [{"id": number, "name": name, "supercategory": "clip"} for name, number in categories.items()],
        "images": [],
        "annotations": [],
    }
    for item in items:
        for frame in keyframes(item):
            image_id = len(document["images"]) + 1
            document["images"].append(
                {
                    "id": image_id,
                    "file_name": images[(item.item_id, frame)],
                    "width": item.width,
                    "height": item.height,
                    "item_id": item.item_id,
                    "frame": frame,
                    "clip_label": item.label,
                }
            )
            for track in item.tracks:
                for box in (box for at, box in track.boxes if at == frame):
                    x, y, w, h = _pixels(box, item.width, item.height)
                    document["annotations"].append(
                        {
                            "id": len(document["annotations"]) + 1,
                            "image_id": image_id,
                            "category_id": categories[track.label],
                            "bbox": [round(x, 2), round(y, 2), round(w, 2), round(h, 2)],
                            "area": round(w * h, 2),
                            "iscrowd": 0,
                            "segmentation": [],
                            "attributes": {"machine_made": track.machine_made, "source": track.source},
                        }
                    )
    return document


def _pixels(box: Box, width: int, height: int) -> tuple[float, float, float, float]:
    return box.x * width, box.y * height, box.w * width, box.h * height
