"""What an anonymized image still gives away, measured on the whole image with an attacker's tools.

- ``outcome``: a measure's counts (``Ratio``) or ``Missing`` with its reason; ``aggregate``: pooled over a sample.
- ``ocr``: PP-OCRv3 detection and recognition (RapidOCR); ``readable_text``: words and characters still read
  (``edit_distance``: Levenshtein distance and similarity).
- ``surviving_faces``, ``decodable_codes``, ``readable_mrz``: faces still detected, codes still decoded,
  machine-readable-zone lines still recovered.
- ``probe``: the models and every measure of an anonymized image against its original.
- ``detector_recall``: the detectors and the OCR against the drawn ground truth of synthetic pages;
  ``box_overlap``: the box geometry the measures share.
- ``sample``: the seeded sample of validation images the measures run on.
- ``study_measures``: every variant of a study anonymized and measured on the sample (the privacy stage's work).
- ``table``: the rows of ``results/privacy.csv`` and ``privacy_recall.csv`` (the privacy stage writes them).
"""
