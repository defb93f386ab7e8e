"""Tests of the camera-side stage (clipwarden.media)."""
