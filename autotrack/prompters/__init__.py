"""Prompters: turn frames into prompts for the SAM2 tracker.

Each module holds one prompter: `points` (a point tracker, OpenCV Lucas-Kanade or CoTracker3, that keeps handing
SAM2 fresh point prompts for objects no detector knows), and the detector and manual prompters.
"""
