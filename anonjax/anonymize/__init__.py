"""Detection of faces, text and codes, and their anonymization by pixelation, blur or masking.

Images are uint8 RGB [H, W, 3] numpy arrays; boxes int32 [n, 4] xyxy, half-open, clipped to the image.
"""

from anonjax.anonymize.box_cache import detect_split, load_split_boxes
from anonjax.anonymize.box_shards import load_box_table
from anonjax.anonymize.box_table import BoxTable
from anonjax.anonymize.boxes import BoxError, box_area_fraction, clean_boxes
from anonjax.anonymize.codes import CodeDetector, detect_codes
from anonjax.anonymize.detection import KINDS, Detections, Detectors
from anonjax.anonymize.faces import FaceDetector, detect_faces
from anonjax.anonymize.materialize import anonymized_variants, file_name, materialize_pairs
from anonjax.anonymize.methods import BLUR_SIGMA, MASK_FILL, METHODS, PIXEL_CELLS, apply
from anonjax.anonymize.selection import box_count, box_ranks, select_boxes
from anonjax.anonymize.text import TextDetector, detect_text

__all__ = [
    "BLUR_SIGMA",
    "KINDS",
    "MASK_FILL",
    "METHODS",
    "PIXEL_CELLS",
    "BoxError",
    "BoxTable",
    "CodeDetector",
    "Detections",
    "Detectors",
    "FaceDetector",
    "TextDetector",
    "anonymized_variants",
    "apply",
    "box_area_fraction",
    "box_count",
    "box_ranks",
    "clean_boxes",
    "detect_codes",
    "detect_faces",
    "detect_split",
    "detect_text",
    "file_name",
    "load_box_table",
    "load_split_boxes",
    "materialize_pairs",
    "select_boxes",
]
