"""The camera-side stage: privacy zones, motion detection, clip recording, H.264/MP4, the camera AI.

One job per module: ``zones`` (masks, black-out), ``motion`` (the detector), ``capture`` (the recorder),
``codec`` (encode, probe, decode) and ``camera_ai`` (the baseline labeller). Nothing here knows that a
simulator exists: frames come in, clips and verdicts go out.
"""
