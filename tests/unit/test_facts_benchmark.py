"""The facts benchmark's scoring: what counts as a value label."""

from evals.facts.benchmark import score, summary


class _Layer:
    """Reads every labelled fact as present with the value given here."""

    def __init__(self, values: dict):
        self.values = values

    def read(self, row):
        return {lab["fact"]: ("present", self.values.get(lab["fact"])) for lab in row["labels"]}, False


ROW = {"id": "t-1", "text": "x", "labels": [
    {"fact": "age", "status": "present", "value": 52},
    {"fact": "surgery_type", "status": "present", "value": "right rotator cuff repair"},
    {"fact": "urine_drug_screen", "status": "present", "value": "3/21/2016 consistent"},
]}


def test_a_free_text_value_for_a_fact_without_one_is_not_scored_as_a_value():
    s = summary(score(_Layer({"age": 52}), [ROW]))
    assert s["numeric_n"] == 1 and s["numeric_accuracy"] == 1.0
    assert s["status_accuracy"] == 1.0


def test_a_wrong_value_of_a_valued_fact_still_counts_against_it():
    s = summary(score(_Layer({"age": 25}), [ROW]))
    assert s["numeric_n"] == 1 and s["numeric_accuracy"] == 0.0
