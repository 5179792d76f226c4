from anonjax.analysis import downstream_table, interval_table, scenario_table


def _rows():
    rows = []
    for model, base in (("unadapted", 0.9), ("A", 0.5)):
        for method, drop in (("pixel", 0.0), ("mask", 0.3)):
            for queries, bonus in (("original", 0.0), ("anonymized", 0.05)):
                rows.append(dict(model=model, method=method, degree=1.0, queries=queries,
                                 map=base - drop + bonus, mndcg=0.95 - drop))
    return rows


def test_scenario_table_layout_and_best_marked():
    text = scenario_table(_rows(), k=19).splitlines()
    assert text[0] == "| Model | mAP pixel | mAP mask | mnDCG19 pixel | mnDCG19 mask |"
    assert text[2].startswith("| *With original query images*")
    assert text[3] == "| Unadapted | **90.0** | **60.0** | **95.0** | **65.0** |"
    assert text[4] == "| Adaption A | 50.0 | 20.0 | **95.0** | **65.0** |"
    assert text[5].startswith("| *With anonymized query images*")
    assert text[6] == "| Unadapted | **95.0** | **65.0** | **95.0** | **65.0** |"


def test_downstream_table_missing_cell():
    rows = [dict(model="unadapted", method="blur", knn=0.8, linear=0.7),
            dict(model="C", method="blur", knn=0.9, linear=0.6),
            dict(model="C", method="pixel", knn=0.5, linear=0.5)]
    text = downstream_table(rows).splitlines()
    assert text[0] == "| Model | k-NN pixel | k-NN blur | Linear pixel | Linear blur |"
    assert text[2] == "| Unadapted | - | 80.0 | - | **70.0** |"
    assert text[3] == "| Adaption C | **50.0** | **90.0** | **50.0** | 60.0 |"


def test_interval_table_one_row_per_scenario():
    rows = [dict(model="A", method="mask", queries="anonymized", map=0.5, map_low=0.45, map_high=0.551,
                 mndcg=0.9, mndcg_low=0.88, mndcg_high=0.92, linkage=0.125)]
    text = interval_table(rows).splitlines()
    assert text[0] == "| Model | Method | Queries | mAP | mAP 95% CI | mnDCG | mnDCG 95% CI | linkage |"
    assert text[2] == "| Adaption A | mask | anonymized | 50.0 | 45.0-55.1 | 90.0 | 88.0-92.0 | 12.5 |"
