"""The pure part of dataset exports: motion regions linked into tracks, reviewer segments and boxes in frames,
the keyframes COCO gets, and the shape of the CVAT and Label Studio documents (the real tools load them in
tests/cli/test_exports.py)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from clipwarden.learn import export_formats as formats
from clipwarden.learn.export_formats import ExportItem, Segment, Track
from clipwarden.media.motion import Box

LEFT, RIGHT = Box(0.1, 0.2, 0.2, 0.4), Box(0.7, 0.2, 0.2, 0.4)


def _item(tracks: tuple[Track, ...], segments: tuple[Segment, ...] = (), frames: int = 40) -> ExportItem:
    return ExportItem("item_x", "pet", 0.95, True, "videos/item_x.mp4", 320, 180, 10, frames, tracks, segments)


def _moved(box: Box, dx: float) -> Box:
    return Box(box.x + dx, box.y, box.w, box.h)


def test_motion_regions_that_overlap_frame_to_frame_are_one_track() -> None:
    walking = [[_moved(LEFT, 0.01 * i)] for i in range(5)]
    per_frame = [[*regions, RIGHT] if i < 2 else regions for i, regions in enumerate(walking)]
    per_frame += [[], [LEFT]]  # a frame without motion ends the track; the next region starts a new one
    tracks = formats.motion_tracks(per_frame, "pet")
    assert [[frame for frame, _ in track.boxes] for track in tracks] == [[0, 1, 2, 3, 4], [0, 1], [6]]
    assert all(track.machine_made and track.label == "pet" for track in tracks)


def test_reviewer_boxes_and_segments_become_frames() -> None:
    answers = [("pet", [{"t_s": 1.0, "x": 0.1, "y": 0.1, "w": 0.2, "h": 0.2}]), ("visitor", [])]
    [track] = formats.reviewer_tracks(answers, fps=10, frames=30)
    assert (track.label, track.source, track.boxes[0][0]) == ("pet", "reviewer", 10)
    segments = formats.segments_of([[{"start_s": 0.5, "end_s": 2.0, "label": "pet"}], []], fps=10, frames=30)
    assert segments == [Segment("pet", 5, 19)]
    assert formats.segment_at(segments, 19) == "pet" and formats.segment_at(segments, 20) == "none"


def test_keyframes_are_the_reviewers_frames_else_one_a_second_of_motion() -> None:
    drawn = Track("pet", "reviewer", ((3, LEFT), (12, LEFT)))
    moving = Track("pet", "motion", tuple((frame, LEFT) for frame in range(40)))
    assert formats.keyframes(_item((drawn, moving))) == [3, 12]
    assert formats.keyframes(_item((moving,))) == [0, 13, 26, 39]  # 4 s of motion
    long = Track("pet", "motion", tuple((frame, LEFT) for frame in range(300)))
    assert len(formats.keyframes(_item((long,), frames=300))) == formats.KEYFRAMES_PER_ITEM
    assert formats.keyframes(_item(())) == []


def test_a_cvat_track_ends_with_an_outside_box_after_each_gap() -> None:
    moving = Track("pet", "motion", ((0, LEFT), (1, LEFT), (5, RIGHT)))
    root = ET.fromstring(formats.cvat_video(_item((moving,), (Segment("pet", 0, 4),)), "exp_1"))
    [track] = root.findall("track")
    assert track.get("source") == "auto"
    boxes = [(box.get("frame"), box.get("outside")) for box in track.findall("box")]
    assert boxes == [("0", "0"), ("1", "0"), ("2", "1"), ("5", "0"), ("6", "1")]
    first = track.find("box")
    assert first is not None
    attributes = {element.get("name"): element.text for element in first.findall("attribute")}
    assert attributes == {"clip_label": "pet", "segment": "pet", "machine_made": "true"}


def test_label_studio_keeps_machine_boxes_apart_as_a_prediction() -> None:
    drawn = Track("pet", "reviewer", ((3, LEFT),))
    moving = Track("pet", "motion", ((0, LEFT), (1, LEFT)))
    task = formats.label_studio_task(_item((drawn, moving)), "exp_1")
    [annotation] = task["annotations"]
    assert [region["type"] for region in annotation["result"]] == ["choices", "videorectangle"]
    [prediction] = task["predictions"]
    [region] = prediction["result"]
    assert [step["frame"] for step in region["value"]["sequence"]] == [1, 2]  # Label Studio counts from 1
    assert [step["enabled"] for step in region["value"]["sequence"]] == [True, False]
