"""scripts/benchmark_docs.py: a benchmark's ``--write-docs`` replaces its own section of the page with what it
printed, its machine, date and command line, and leaves the other sections as they were."""

import sys

import pytest

from scripts import benchmark_docs


def test_a_run_replaces_its_own_section_only(tmp_path, monkeypatch, capsys):
    page = tmp_path / "benchmarks.md"
    monkeypatch.setattr(sys, "argv", ["bench_a.py", "--small", "--write-docs"])
    with benchmark_docs.recorded("bench_a", "A", True, page):
        print("a: 1.0 s")
    monkeypatch.setattr(sys, "argv", ["bench_b.py", "--write-docs"])
    with benchmark_docs.recorded("bench_b", "B", True, page):
        print("b: 2.0 s")
    monkeypatch.setattr(sys, "argv", ["bench_a.py", "--write-docs"])
    with benchmark_docs.recorded("bench_a", "A", True, page):
        print("a: 3.0 s")

    text = page.read_text()
    assert text.startswith(benchmark_docs.HEADER)
    assert "a: 1.0 s" not in text and text.count("## A") == 1 and text.index("## A") < text.index("## B")
    a = text[text.index("<!-- begin bench_a -->"):text.index("<!-- end bench_a -->")]
    assert "- command: `python -m scripts.bench_a`" in a and "a: 3.0 s" in a
    assert "- machine: " in a and " cores, " in a and "- date: " in a
    assert "b: 2.0 s" in text and "`python -m scripts.bench_b`" in text
    assert capsys.readouterr().out == "a: 1.0 s\nb: 2.0 s\na: 3.0 s\n"  # printed as usual


def test_nothing_is_written_without_the_flag_or_when_the_run_fails(tmp_path):
    page = tmp_path / "benchmarks.md"
    with benchmark_docs.recorded("bench_a", "A", False, page):
        print("a")
    assert not page.exists()
    with pytest.raises(RuntimeError), benchmark_docs.recorded("bench_a", "A", True, page):
        print("half a table")
        raise RuntimeError("out of memory")
    assert not page.exists()
