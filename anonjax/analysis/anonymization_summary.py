"""The anonymize stage's ``report.md``: its ``report.json`` as a short human-readable summary."""

from __future__ import annotations

from anonjax.analysis.markdown_text import literal
from anonjax.layout import percent


def markdown(report: dict) -> str:
    """A short human-readable summary of ``report``."""
    methods = report["methods"]
    degrees = ", ".join(f"{percent(d)}%" for d in report["degrees"])
    lines = ["# Anonymization", "",
             f"Methods {', '.join(methods)}; degrees {degrees} ({report['count_rule']}); seed {report['seed']}; "
             f"parameters {report['params']}.", "", "## Detectors", ""]
    for kind, info in report["detectors"].items():
        models = ", ".join(f"{m['file']} (sha256 {m['sha256'][:16]}...)" for m in info["models"]) or "built in"
        lines.append(f"- {kind}: {info['backend']}; {models}")
    for name, s in report["splits"].items():
        empty = "kept" if report["keep_empty"] else "excluded"
        boxes = s["boxes_per_image"]
        lines += ["", f"## Split {name}", "",
                  f"{s['images_listed']} images listed, {s['images_unreadable']} unreadable, "
                  f"{s['images_failed']} failed reading or detection, {s['images_without_detection']} without "
                  f"detection ({empty}): **{s['images_kept']} kept**. "
                  f"Boxes per image: mean {boxes['mean']:.2f}, max {boxes['max']:.0f}.", "",
                  *_resolution_lines(s), "",
                  "| degree | boxes/image | area | " + " | ".join(f"box pixels changed ({m})" for m in methods)
                  + " |", "|---" * (3 + len(methods)) + "|"]
        for degree, d in s["degrees"].items():
            changed = " | ".join(_changed_cell(d["box_pixels_changed"][m]) for m in methods)
            lines.append(f"| {degree}% | {d['boxes_per_image']['mean']:.2f} | {d['area_fraction']['mean']:.3f} | "
                         f"{changed} |")
        lines += [line for warning in s["warnings"] for line in ("", f"**Warning:** {warning}.")]
        lines += _left_out_lines(s, names=report.get("originals", True))
    return "\n".join(lines) + "\n"


_LISTED = 50


def _left_out_lines(split: dict, names: bool = True) -> list[str]:
    """The files of a split that were left out, with their reasons, and the multi-page files; without
    ``names`` only their numbers (names and reasons, which hold paths, stay in report.json)."""
    left_out = [(e["file"], e["reason"]) for e in split["skipped"]] + list(split["failed"].items())
    multi_page = split["multi_page"]
    if not names:
        return [line for what, count in (("Files left out", len(left_out)),
                                         ("Multi-page files, first page used", len(multi_page))) if count
                for line in ("", f"{what}: {count}, named in report.json.")]
    lines = []
    if left_out:
        lines += ["", f"Left out ({len(left_out)}):", ""]
        lines += [f"- {literal(name)}: {literal(reason)}" for name, reason in left_out[:_LISTED]]
        if len(left_out) > _LISTED:
            lines.append(f"- ... and {len(left_out) - _LISTED} more, listed in report.json")
    if multi_page:
        lines += ["", f"Multi-page files, first page used ({len(multi_page)}):", ""]
        lines += [f"- {literal(e['file'])}: {e['pages']} pages" for e in multi_page[:_LISTED]]
    return lines


def _resolution_lines(split: dict) -> list[str]:
    """What the table's columns measure, and how tall the text boxes are where the models look."""
    n, size = split["stats_images"], split["model_input"]
    own, seen = split["text_box_height_px"]["image"], split["text_box_height_px"]["model_input"]
    where = ("at the resolution the model sees: canvas {canvas_size} px, input {image_size} px".format(**size)
             if size else "at the images' own resolution (the config does not set train.canvas_size and "
             "embed.image_size, so the models' input is not known)")
    heights = f"Text boxes in the first {n} images ({own['n']}): {_height(own)} tall in the images themselves"
    if size:
        heights += f", {_height(seen)} at the model input"
    return [f"Area: fraction of the pixels inside the selected boxes (all kept images). Box pixels changed: of "
            f"the pixels inside the selected boxes, the fraction each method altered (any channel by at least "
            f"one level), {where}; first {n} images, mean over images (pooled over all box pixels).", "",
            heights + "."]


def _height(q: dict) -> str:
    if q["median"] is None:
        return "n/a"
    return f"median {q['median']:.1f} px (10th percentile {q['p10']:.1f} px)"


def _changed_cell(c: dict) -> str:
    if c["images"] is None:
        return "n/a"
    return f"{c['images']:.3f} ({c['pixels']:.3f})"
