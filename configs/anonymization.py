"""Anonymization preset (``config.anonymize`` of a study): detectors and their settings, methods, degrees
and method parameters, which boxes count, and what the anonymize stage writes.

Example (in a study config): ``config.anonymize = anonymization.get_config(detectors=("text",))``.
"""

from __future__ import annotations

import os

import ml_collections


def get_config(detectors: tuple[str, ...] = ("faces", "text", "codes")) -> ml_collections.ConfigDict:
    """Paper settings: MTCNN faces and PP-OCRv3 text with their reference settings, OpenCV's barcode and
    QR detectors, pixelation/blur/mask at 25/50/75/100 % of the boxes."""
    c = ml_collections.ConfigDict()
    c.detectors = detectors  # any of "faces" (MTCNN), "text" (PP-OCR DB), "codes" (barcodes, QR codes)
    c.faces = ml_collections.ConfigDict(dict(
        min_face_size=20,  # pixels
        thresholds=(0.6, 0.7, 0.7),  # P-, R-, O-Net score thresholds
        scale_factor=0.709,  # image pyramid step
        min_score=0.0,  # final confidence cut
        margin=0.0,  # grow each face box by this fraction of its size on every side
    ))
    c.text = ml_collections.ConfigDict(dict(
        model_path="",  # empty: ch_PP-OCRv3_det_infer.onnx from rapidocr-onnxruntime; or any PP-OCR det ONNX
        limit_side_len=736,  # the image's shorter side is resized to this (limit_type "min") ...
        limit_type="min",  # ... or its longer side is capped at it ("max")
        thresh=0.3,  # probability-map binarization
        box_thresh=0.5,  # minimum mean probability of a box
        unclip_ratio=1.6,  # how far a box is grown (DB's unclip)
        max_candidates=1000,
        use_dilation=True,
        margin=0.1,  # grow each text box by this fraction of its height on every side (0: PaddleOCR's boxes)
    ))
    c.codes = ml_collections.ConfigDict(dict(barcodes=True, qr_codes=True))

    c.methods = ("pixel", "blur", "mask")
    c.degrees = (0.25, 0.5, 0.75, 1.0)  # fraction of an image's boxes anonymized: ceil(degree * n), nested
    c.degree_kinds = ("text",)  # the boxes a degree is a fraction of; faces and codes are always anonymized
    c.pixel = ml_collections.ConfigDict(dict(cells=4))  # grid cells along a box's shorter side (8 leaks text)
    c.blur = ml_collections.ConfigDict(dict(sigma=0.2))  # Gaussian std as a fraction of a box's shorter side
    c.mask = ml_collections.ConfigDict(dict(fill=(0, 0, 0)))  # RGB (or one grey value) of masked boxes

    c.splits = ("train", "val")  # splits whose boxes are detected and reported
    c.keep_empty = False  # True keeps images without any detection (the paper removes them)
    c.shard_size = 256  # images per cache shard (the unit of resuming)
    c.workers = os.cpu_count() or 1  # detection processes: one per core of the host
    c.stats_images = 64  # images per split on which the changed-pixel fraction of each method is measured
    c.privacy_images = 200  # validation images the privacy stage measures (a seeded sample; 0: none)
    c.example_id = ""  # image of the example sheet; empty: the first split's image with most kinds, then boxes
    c.materialize = False  # write the paired datasets (original + every method x degree) as PNG files
    c.materialize_original = True  # include the original images in the paired datasets
    c.opaque_names = False  # name materialized files 000000.png, ... (names_<split>.json maps them to ids)
    return c
