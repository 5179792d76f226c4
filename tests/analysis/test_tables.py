from anonjax.analysis import downstream_table, interval_table, scenario_table
from anonjax.analysis.tables import model_label, model_order


def _rows():
    rows = []
    for model, base in (("unadapted", 0.9), ("control", 0.85), ("A", 0.5)):
        for method, drop in (("pixel", 0.0), ("mask", 0.3)):
            for queries, bonus in (("original", 0.0), ("anonymized", 0.05)):
                name = f"A_{method}_100" if model == "A" else model
                rows.append(dict(model=model, model_name=name, method=method, degree=1.0, queries=queries,
                                 map=base - drop + bonus, mndcg=0.95 - drop, map_chance=0.01 + drop / 10,
                                 mndcg_chance=0.5))
    return rows


def test_scenario_table_layout_marks_none_block_and_chance():
    none_rows = [dict(model="unadapted", model_name="unadapted", map=1.0, mndcg=1.0),
                 dict(model="control", model_name="control", map=0.8, mndcg=0.9),
                 dict(model="A", model_name="A_mask_100", map=0.7, mndcg=0.75)]
    marks = [dict(table="retrieval", queries="original", method="pixel", metric="map", model="unadapted"),
             dict(table="downstream", method="pixel", metric="knn", model="A")]
    text = scenario_table(_rows(), k=19, none_rows=none_rows, marks=marks).splitlines()
    assert text[0] == "| Model | mAP pixel | mAP mask | mnDCG19 pixel | mnDCG19 mask |"
    assert text[2].startswith("| *With original query images*")
    # Bold only where the summary marked the cell: the equal mnDCG values are not separated.
    assert text[3] == "| Unadapted | **90.0** | 60.0 | 95.0 | 65.0 |"
    assert text[4] == "| Control | 85.0 | 55.0 | 95.0 | 65.0 |"
    assert text[5] == "| Adaption A | 50.0 | 20.0 | 95.0 | 65.0 |"
    assert text[6].startswith("| *With anonymized query images*")
    assert text[10].startswith("| *Without anonymization")
    assert text[11:14] == ["| Unadapted | 100.0 | 100.0 | 100.0 | 100.0 |", "| Control | 80.0 | 80.0 | 90.0 | 90.0 |",
                           "| Adaption A | - | 70.0 | - | 75.0 |"]
    assert text[14] == "| *Random ranking (chance)* | 1.0 | 4.0 | 50.0 | 50.0 |"


def test_downstream_table_missing_cell_and_marks():
    rows = [dict(model="unadapted", method="blur", knn=0.8, linear=0.7),
            dict(model="C", method="blur", knn=0.9, linear=0.6),
            dict(model="C", method="pixel", knn=0.5, linear=0.5)]
    marks = [dict(table="downstream", method="blur", metric="knn", model="C")]
    text = downstream_table(rows, marks).splitlines()
    assert text[0] == "| Model | k-NN pixel | k-NN blur | Linear pixel | Linear blur |"
    assert text[2] == "| Unadapted | - | 80.0 | - | 70.0 |"
    assert text[3] == "| Adaption C | 50.0 | **90.0** | 50.0 | 60.0 |"


def test_interval_table_one_row_per_scenario():
    rows = [dict(model="A", model_name="A_mask_100", method="mask", queries="anonymized", map=0.5, map_low=0.45,
                 map_high=0.551, mndcg=0.9, mndcg_low=0.88, mndcg_high=0.92, map_chance=0.0123, mndcg_chance=0.6,
                 linkage=0.125),
            dict(model="control", model_name="control", method="none", queries="original", map=0.5, map_low=0.45,
                 map_high=0.551, mndcg=0.9, mndcg_low=0.88, mndcg_high=0.92, map_chance=0.0123, mndcg_chance=0.6,
                 linkage=None)]
    text = interval_table(rows).splitlines()
    assert text[0] == ("| Model | Method | Queries | mAP | mAP 95% CI | mnDCG | mnDCG 95% CI | chance mAP / mnDCG | "
                       "linkage |")
    assert text[2] == ("| Adaption A (A_mask_100) | mask | anonymized | 50.0 | 45.0-55.1 | 90.0 | 88.0-92.0 | "
                       "1.2 / 60.0 | 12.5 |")
    assert text[3] == "| Control | none | original | 50.0 | 45.0-55.1 | 90.0 | 88.0-92.0 | 1.2 / 60.0 | - |"


def test_model_labels_and_order():
    assert [model_label(m) for m in ("unadapted", "control", "control2", "B")] == [
        "Unadapted", "Control", "Control 2", "Adaption B"]
    assert model_order(["C", "control10", "A", "control2", "unadapted", "control"]) == [
        "unadapted", "control", "control2", "control10", "A", "C"]
