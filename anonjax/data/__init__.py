"""Data sources (synthetic documents, CelebA, RVL-CDIP, a user's folder) behind one grain reader."""

from anonjax.data import transforms
from anonjax.data.identity import file_stamp, pixel_digest
from anonjax.data.image_io import IMAGE_SUFFIXES, FileCheck, ImageError, check_file, read_image, to_rgb
from anonjax.data.listing import Listing
from anonjax.data.reader import SOURCES, SPLITS, Split, open_split, validate
from anonjax.data.transforms import IMAGENET_MEAN, IMAGENET_STD, EvalTransform
from anonjax.errors import DatasetError

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "IMAGE_SUFFIXES",
    "SOURCES",
    "SPLITS",
    "DatasetError",
    "EvalTransform",
    "FileCheck",
    "ImageError",
    "Listing",
    "Split",
    "check_file",
    "file_stamp",
    "open_split",
    "pixel_digest",
    "read_image",
    "to_rgb",
    "transforms",
    "validate",
]
