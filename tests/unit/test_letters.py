"""The letter ready to sign: claim header, reviewer attestation, signature block, the draft banner only on drafts,
and every problem that must block approval (placeholders, missing names, undecided or self-contradicting items)."""

from __future__ import annotations

import datetime as dt

import pytest

from drafter.claim_header import ClaimHeader
from drafter.intake import Case, Document
from drafter.letters import ReviewerProfile, conclusion_contradiction, placeholders, readiness_problems, render_letter

BANNER = "DRAFT FOR PHYSICIAN REVIEW - NOT A FINAL DETERMINATION"
# SAMPLE texts, invented for these tests.
UR = Document("ur.txt", "UTILIZATION REVIEW DETERMINATION\nGuidelines cited: CA MTUS Chronic Pain Medical Treatment Guidelines, "
              "Physical Medicine\n\nAquatic therapy x 8:  Non-certified\n", "ur")
UPHELD = ("Aquatic therapy is recommended as an optional form of exercise where reduced weight bearing is desirable. "
          "The records do not document extreme obesity or an inability to do land-based exercise. "
          "Therefore, the request for aquatic therapy x 8 is not medically necessary.")
OVERTURNED = ("The guideline recommends a one-month home-based TENS trial as an adjunct to a program of functional restoration. "
              "The records document neuropathic pain for more than three months and failed medications. "
              "Therefore, the request for a TENS unit trial is medically necessary.")
CITE = [{"guideline": "MTUS Chronic Pain Medical Treatment Guidelines", "edition": "2009", "topic": "Aquatic therapy", "pages": [22]}]


def case() -> Case:
    return Case(documents=[UR], items=["Aquatic therapy x 8", "TENS unit trial, 30 days"], request_date=dt.date(2016, 6, 6))


def items(first: str = "upheld", second: str = "overturned") -> list[dict]:
    return [{"item": "Aquatic therapy x 8", "decision": first, "rationale": UPHELD, "citations": CITE},
            {"item": "TENS unit trial, 30 days", "decision": second, "rationale": OVERTURNED, "citations": CITE}]


HEADER = ClaimHeader(claimant="Rowan Madeup", claim_number="41-7777-Q", date_of_injury="11/18/2014", ur_date="06/10/2016",
                     request_date="06/06/2016", employer="Lakeshore Freight", claims_administrator="Tidewell Claims Services")
PROFILE = ReviewerProfile(name="Sam Hypothetical", specialty="Physical Medicine and Rehabilitation", credentials="MD",
                          board_certification="American Board of Physical Medicine and Rehabilitation")


def test_the_positional_call_still_renders_a_draft_with_its_placeholders():
    text = render_letter(case(), "The applicant is a 58-year-old worker.", items(), "fake-model", "v9")
    assert text.startswith(BANNER)
    assert "[specialty]" in text and "Request date: 2016-06-06" in text
    assert "Claims Administrator guideline: Decision based on CA MTUS Chronic Pain Medical Treatment Guidelines, Physical Medicine." in text
    assert "Date signed" not in text and "Claimant:" not in text


def test_a_signed_letter_has_a_header_attestation_and_signature_and_no_banner():
    text = render_letter(case(), "Summary.", items(), "fake-model", "v9", header=HEADER, profile=PROFILE,
                         claims_basis="ODG Knee chapter, Aquatic therapy", signed_on=dt.date(2016, 7, 1))
    assert BANNER not in text and "IMR Drafter" not in text
    assert text.startswith("Claimant: Rowan Madeup\nClaim number: 41-7777-Q\nDate of injury: 11/18/2014\n"
                           "UR decision date: 06/10/2016\nRequest date: 06/06/2016\nClaims administrator: Tidewell Claims Services\n")
    assert text.count("Request date:") == 1
    assert "is board certified in Physical Medicine and Rehabilitation (American Board of Physical Medicine and Rehabilitation)" in text
    assert "(MD)" in text and "[specialty]" not in text
    assert text.count("Claims Administrator guideline: Decision based on ODG Knee chapter, Aquatic therapy.") == 2
    assert text.rstrip().endswith("Expert reviewer:\nSam Hypothetical, MD\nSpecialty: Physical Medicine and Rehabilitation\n"
                                  "Board certification: American Board of Physical Medicine and Rehabilitation\nDate signed: 07/01/2016")
    assert readiness_problems(text, items(), PROFILE, HEADER) == []


def test_unsigned_with_a_profile_keeps_the_banner_and_has_no_signature():
    text = render_letter(case(), "Summary.", items(), "m", "v", header=HEADER, profile=PROFILE)
    assert text.startswith(BANNER) and "Claimant: Rowan Madeup" in text
    assert "Date signed" not in text and "Expert reviewer:" not in text
    assert "board certified in Physical Medicine and Rehabilitation" in text


def test_unknown_header_fields_and_profile_show_as_placeholders():
    header = ClaimHeader(date_of_injury="11/18/2014")
    text = render_letter(case(), "S.", items(), "m", "v", header=header, profile=ReviewerProfile(), signed_on=dt.date(2016, 7, 1))
    assert "Claimant: [claimant name]" in text and "Claim number: [claim number]" in text
    assert "Request date: 06/06/2016" in text  # the case's request date when the header has none
    assert "Sam" not in text and "[reviewer name]" in text and "[specialty]" in text
    assert placeholders(text) == ["[claimant name]", "[claim number]", "[UR decision date]", "[claims administrator]", "[specialty]",
                                  "[reviewer name]"]


def test_the_claims_basis_placeholder_when_the_ur_letter_names_no_guideline():
    bare = Case(documents=[Document("ur.txt", "UTILIZATION REVIEW DETERMINATION\nDenied.\n", "ur")], items=["Aquatic therapy x 8"])
    text = render_letter(bare, "S.", items()[:1], "m", "v")
    assert "Decision based on [the guideline named in the UR letter]." in text
    assert "Decision based on ACOEM Chapter 12." in render_letter(bare, "S.", items()[:1], "m", "v", claims_basis="ACOEM Chapter 12")


# -- readiness -------------------------------------------------------------------------------------------
def ready_text(**kw) -> str:
    args = dict(header=HEADER, profile=PROFILE, claims_basis="ODG", signed_on=dt.date(2016, 7, 1)) | kw
    return render_letter(case(), "Summary with a [redacted] employer and a shortened quote [...].", items(), "m", "v", **args)


def test_a_complete_letter_is_ready():
    assert readiness_problems(ready_text(), items(), PROFILE, HEADER) == []


def test_every_unfilled_placeholder_is_quoted():
    text = ready_text(claims_basis=None).replace("certified in Physical Medicine and Rehabilitation", "certified in [specialty]")
    bare = text.replace("CA MTUS Chronic Pain Medical Treatment Guidelines, Physical Medicine.", "[the guideline named in the UR letter].")
    probs = readiness_problems(bare + "\nSee [attach the PR-2 of 05/2016].\n", items(), PROFILE, HEADER)
    assert any('"[the guideline named in the UR letter]"' in p for p in probs)
    assert any('"[attach the PR-2 of 05/2016]"' in p for p in probs)
    assert any('"[specialty]"' in p for p in probs)  # the profile has one, but the text lost it
    assert len([p for p in probs if "[the guideline named in the UR letter]" in p]) == 1  # once, however often it appears
    assert not any("redacted" in p or "[...]" in p for p in probs)


def test_a_citation_gap_is_a_placeholder_to_fill():
    no_cite = [dict(it, citations=[]) for it in items()]
    text = render_letter(case(), "S.", no_cite, "m", "v", header=HEADER, profile=PROFILE, signed_on=dt.date(2016, 7, 1))
    probs = readiness_problems(text, no_cite, PROFILE, HEADER)
    assert len(probs) == 1 and "reviewer to name the guideline applied" in probs[0]


@pytest.mark.parametrize("profile, needle", [
    (None, "reviewer's name"),
    (ReviewerProfile(specialty="Anesthesiology"), "reviewer's name"),
    (ReviewerProfile(name="Sam Hypothetical"), "specialty"),
])
def test_a_missing_reviewer_name_or_specialty(profile, needle):
    text = ready_text(profile=profile)
    probs = readiness_problems(text, items(), profile, HEADER)
    assert any(needle in p for p in probs)
    # the placeholder the missing value left is reported once, as the missing value, not again as a placeholder
    assert not any("placeholder" in p for p in probs)


@pytest.mark.parametrize("header, needle", [
    (None, "claimant"),
    (None, "claim number"),
    (HEADER.model_copy(update={"claimant": ""}), "claimant"),
    (HEADER.model_copy(update={"claim_number": " "}), "claim number"),
])
def test_a_missing_claimant_or_claim_number(header, needle):
    probs = readiness_problems(ready_text(header=header), items(), PROFILE, header)
    assert any(needle in p and "missing" in p for p in probs)


def test_other_missing_header_fields_block_as_placeholders():
    header = HEADER.model_copy(update={"ur_date": ""})
    probs = readiness_problems(ready_text(header=header), items(), PROFILE, header)
    assert probs == ['The letter still has the placeholder "[UR decision date]": replace it with the actual text.']


def test_an_item_still_needing_a_decision_is_named():
    its = items(second="needs_review")
    probs = readiness_problems(ready_text(), its, PROFILE, HEADER)
    assert len(probs) == 1 and '"TENS unit trial, 30 days"' in probs[0] and "no decision" in probs[0]
    assert readiness_problems(ready_text(), items(second=""), PROFILE, HEADER) == probs


def test_overturned_while_the_rationale_concludes_not_medically_necessary():
    its = items(first="overturned")
    probs = readiness_problems(ready_text(), its, PROFILE, HEADER)
    assert len(probs) == 1
    assert '"Aquatic therapy x 8" is marked Overturned' in probs[0]
    assert "Therefore, the request for aquatic therapy x 8 is not medically necessary." in probs[0]


def test_upheld_while_the_rationale_concludes_medically_necessary():
    its = items(second="upheld")
    probs = readiness_problems(ready_text(), its, PROFILE, HEADER)
    assert len(probs) == 1 and '"TENS unit trial, 30 days" is marked Upheld' in probs[0] and "is medically necessary." in probs[0]


def test_the_conclusion_is_the_last_verdict_not_a_guideline_quote_on_the_way():
    # an overturned rationale may say what the guideline does not recommend before it concludes
    text = ("Passive modalities are not recommended as stand-alone treatment. Here the TENS trial is an adjunct to a home "
            "exercise program. Therefore, the request is medically necessary.")
    assert conclusion_contradiction(text, "overturned") is None
    assert conclusion_contradiction(text, "upheld") == "Therefore, the request is medically necessary."
    # and the reverse: an upheld rationale that quotes the UR's "criteria are met" before concluding
    upheld = "The provider argues the request is medically necessary. The records do not show it. The request is not medically necessary."
    assert conclusion_contradiction(upheld, "upheld") is None
    assert conclusion_contradiction("No verdict stated here.", "upheld") is None
    assert conclusion_contradiction(text, "needs_review") is None


def test_readiness_reports_every_problem_at_once():
    its = items(first="overturned", second="needs_review")
    text = render_letter(case(), "S.", its, "m", "v", header=ClaimHeader(), profile=None, signed_on=dt.date(2016, 7, 1))
    probs = readiness_problems(text, its, None, ClaimHeader())
    assert len(probs) == 4 + 3 + 2  # name, specialty, claimant, claim number; DOI, UR date, administrator placeholders; two items


def test_pages_make_a_range_only_when_consecutive():
    from drafter.argument import pages_label

    assert pages_label([99]) == "page 99"
    assert pages_label([98, 99]) == "pages 98-99"
    assert pages_label([29, 65]) == "pages 29, 65"  # never "29-65": the passage does not state the pages between
    assert pages_label([64, 41, 63, 42, 64]) == "pages 41-42, 63-64"


def test_the_reviewer_basis_names_each_topic_once_with_its_pages_merged():
    from drafter.letters import reviewer_basis

    g = "MTUS Chronic Pain Medical Treatment Guidelines"
    cites = [{"guideline": g, "edition": "2009", "topic": "Cyclobenzaprine", "pages": [64]},
             {"guideline": g, "edition": "2009", "topic": "Cyclobenzaprine", "pages": [41, 42]},
             {"guideline": g, "edition": "2009", "topic": "Muscle relaxants", "pages": [63, 64, 65, 66]}]
    assert reviewer_basis(cites) == (f"{g} (2009), Cyclobenzaprine, pages 41-42, 64; {g} (2009), Muscle relaxants, pages 63-66.")
