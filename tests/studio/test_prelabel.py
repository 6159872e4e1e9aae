"""Pre-annotations: sentences that stay whole, exact offsets, speech not scare quotes, speakers
after verbs of saying in es/fr/en, and bounded work on very long texts."""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest

from newscorpus.labelstudio import prelabel
from newscorpus.labelstudio.labeling import expected_interface, js_offset
from newscorpus.labelstudio.prelabel import prediction, prelabel_result, sentence_spans
from tests.conftest import make_article
from tests.studio.helpers import studio_corpus


def regions(text: str, language: str | None = None) -> list[tuple[str, str]]:
    """(label, text) of the labelled regions, checked against the text in UTF-16 units."""
    out = []
    units = text.encode("utf-16-le")
    for item in prelabel_result(text, language=language):
        if item.get("type") != "labels":
            continue
        v = item["value"]
        # Label Studio slices the JavaScript string: UTF-16 code units
        assert units[2 * v["start"] : 2 * v["end"]].decode("utf-16-le") == v["text"], v
        out.append((v["labels"][0], v["text"]))
    return out


def by_label(text: str, label: str, language: str | None = None) -> list[str]:
    return [t for lab, t in regions(text, language) if lab == label]


def sentences(text: str, language: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text, language)]


@pytest.mark.parametrize(
    ("language", "text", "expected"),
    [
        (
            "en",
            "Customs seized about 2.3 tonnes of precursors. The U.S. embassy declined to comment.",
            [
                "Customs seized about 2.3 tonnes of precursors.",
                "The U.S. embassy declined to comment.",
            ],
        ),
        (
            "es",
            "Las autoridades de EE. UU. decomisaron 2,3 toneladas. El Sr. García lo confirmó.",
            [
                "Las autoridades de EE. UU. decomisaron 2,3 toneladas.",
                "El Sr. García lo confirmó.",
            ],
        ),
        (
            "fr",
            "M. Dupont a parlé. « Nous n'accepterons pas de troupes. Jamais », a-t-il déclaré. "
            "“Rien”, dit-il.",
            [
                "M. Dupont a parlé.",
                "« Nous n'accepterons pas de troupes. Jamais », a-t-il déclaré.",
                "“Rien”, dit-il.",
            ],
        ),
        (
            "en",
            '"We will act. Soon," Lt. Col. Aaron Whitlock said.\n\nMr. Smith met Dr. Jones.',
            ['"We will act. Soon," Lt. Col. Aaron Whitlock said.', "Mr. Smith met Dr. Jones."],
        ),
    ],
)
def test_sentences_stay_whole_at_decimals_abbreviations_and_quotes(
    language: str, text: str, expected: list[str]
) -> None:
    assert sentences(text, language) == expected


def test_a_figure_sentence_is_one_claim_at_its_exact_offsets() -> None:
    # was cut into "…about 2." and "3 tonnes of precursors…", the latter kept at a wrong offset
    text = "Customs agents seized about 2.3 tonnes of precursors in Manzanillo."
    assert by_label(text, "Claim", "en") == [text]
    es = "Las autoridades de EE. UU. decomisaron 2,3 toneladas de precursores."
    assert by_label(es, "Claim", "es") == [es]
    fr = "M. Dupont a confirmé la saisie de 2,3 tonnes de précurseurs."
    assert by_label(fr, "Claim", "fr") == [fr]


@pytest.mark.parametrize(
    "text",
    [
        "   \t Customs seized about 2.3 tonnes of precursors.  \n\n  « Nous ne céderons jamais sur ce"
        " point », a déclaré Sheinbaum.  ",
        "😀 Emoji first 🇲🇽. Customs seized about 2.3 tonnes 😀 of precursors. « Nous ne céderons"
        " jamais sur ce point 😀 », a déclaré Sheinbaum.",
        unicodedata.normalize(
            "NFD",
            "Élodie Séguin a déclaré : « Les saisies ont été élevées cette année à Sinaloa ».\n\n"
            "Ça représente 97 % des drogues saisies en mer.",
        ),
    ],
)
def test_offsets_index_the_text_in_utf16_units(text: str) -> None:
    got = regions(text, "fr")  # asserts text[start:end] in UTF-16 units == the region's text
    assert {label for label, _ in got} >= {"Quote", "Claim"}
    for label, region in got:
        assert region == region.strip() and "\n" not in region, (label, region)
    for item in prelabel_result(text, language="fr"):
        if item.get("type") == "labels":
            start = text.index(item["value"]["text"])
            assert item["value"]["start"] == js_offset(text, start)


def test_a_claim_in_a_later_paragraph_starts_at_its_first_character() -> None:
    text = "Premier paragraphe sans chiffre\n\nLes douanes ont saisi 2.3 tonnes en 2025.\n\nFin"
    (claim,) = [
        item["value"]
        for item in prelabel_result(text, language="fr")
        if item.get("type") == "labels"
    ]
    assert (claim["start"], claim["end"]) == (
        33,
        33 + len("Les douanes ont saisi 2.3 tonnes en 2025."),
    )


def test_scare_quotes_are_not_quotes_but_speech_is() -> None:
    text = (
        'Brokers have shifted to unregulated "pre-precursors" and split their orders. '
        'The authors recommend an international "know your customer" standard. '
        "Le gouvernement dénonce des « options unilatérales ».\n\n"
        "“We are partners, not a protectorate,” Ferrán told business leaders."
    )
    assert by_label(text, "Quote", "en") == ["We are partners, not a protectorate,"]
    # short speech stays when a verb of saying is next to it
    short = "« Jamais de la vie », a-t-il déclaré."
    assert by_label(short, "Quote", "fr") == ["Jamais de la vie"]


@pytest.mark.parametrize(
    ("language", "text", "speaker"),
    [
        (
            "es",
            "«Este laboratorio tenía capacidad para producir cientos de miles de pastillas», dijo el"
            " vicealmirante Esteban Orozco Lamadrid, quien encabezó la conferencia.",
            "Esteban Orozco Lamadrid",
        ),
        (
            "es",
            "«La operación fue planeada por personal mexicano», insistió Orozco Lamadrid ante la"
            " pregunta de un reportero.",
            "Orozco Lamadrid",
        ),
        (
            "es",
            "«Nadie salió del país sin que un juez resolviera», afirmó la defensora Gabriela Ruiz Mena.",
            "Gabriela Ruiz Mena",
        ),
        (
            "es",
            "«Que vuelen todo lo que quieran», comentó uno de ellos, que pidió no publicar su nombre.",
            "uno de ellos",
        ),
        (
            "fr",
            "« Aucune force étrangère n'opérera ici », a déclaré le ministre de l'Intérieur, Alfonso"
            " Treviño Lara, lors d'une conférence de presse.",
            "Alfonso Treviño Lara",
        ),
        (
            "fr",
            "« On ne bombarde pas un marché », résume l'économiste Sofía Navarrete, qui rappelle le"
            " chômage.",
            "Sofía Navarrete",
        ),
        (
            "fr",
            "Pour la politologue Nathalie Berthier, « aucun pays ne peut sous-traiter sa sécurité ».",
            "Nathalie Berthier",
        ),
        (
            "en",
            "“We can now reach the accountants and the bankers,” said a Justice Department official.",
            "a Justice Department official",
        ),
        (
            "en",
            '"We are ready at any time and in any place," a Pentagon spokesperson, Lt. Col. Aaron'
            " Whitlock, said in a statement.",
            "Aaron Whitlock",
        ),
        (
            "en",
            "“We are partners, not a protectorate,” Ferrán told business leaders at a luncheon.",
            "Ferrán",
        ),
        (
            "en",
            '"We will not accept foreign troops here," said John Smith.',
            "John Smith",
        ),
        (
            "es",
            "Omar García Harfuch declaró: «La cooperación sigue siendo total».",
            "Omar García Harfuch",
        ),
    ],
)
def test_speakers_after_and_before_verbs_of_saying(language: str, text: str, speaker: str) -> None:
    assert by_label(text, "Speaker", language) == [speaker]
    result = prelabel_result(text, language=language)
    rel = [r for r in result if r.get("type") == "relation"]
    ids = {r["value"]["labels"][0]: r["id"] for r in result if r.get("type") == "labels"}
    assert [(r["from_id"], r["to_id"]) for r in rel] == [(ids["Speaker"], ids["Quote"])]


@pytest.mark.parametrize(
    ("language", "text"),
    [
        (
            "fr",
            "« La souveraineté n'est pas négociable », a-t-il lancé, sous les applaudissements.",
        ),
        ("fr", "« Rien ne se fera sans le Congrès mexicain », dit-elle à la presse."),
        ("en", "“We ask for respect for the rules that make cooperation possible,” he said."),
        ("es", "«La soberanía no se negocia ni se subcontrata», dijo. Luego se fue."),
        (
            "en",
            "“We ask for respect for the rules of cooperation,” the envoy said.\n\n"
            "The ambassador said the label had done more harm than good.",
        ),
    ],
)
def test_no_speaker_is_made_up_for_a_pronoun_or_an_unnamed_subject(
    language: str, text: str
) -> None:
    assert len(by_label(text, "Quote", language)) == 1
    assert by_label(text, "Speaker", language) == []


def test_prediction_uses_the_article_language(tmp_path: Any) -> None:
    iface = expected_interface(studio_corpus(tmp_path / "c"))
    text = "M. Dupont a confirmé la saisie de 2,3 tonnes de précurseurs."
    pred = prediction(make_article(1, text=text, language="fr"), iface)
    assert pred is not None
    claims = [r["value"]["text"] for r in pred["result"] if r.get("from_name") == "spans"]
    assert claims == [text]  # sentencex's English rules alone would cut after "M."


def test_long_texts_are_read_only_so_far() -> None:
    para = "Les douanes ont saisi 2.3 tonnes de précurseurs à Manzanillo cette année.\n\n"
    text = para * (prelabel.MAX_CHARS // len(para) + 10)
    result = prelabel_result(text, language="fr")
    spans = [r["value"] for r in result if r.get("type") == "labels"]
    assert len(spans) == prelabel.MAX_REGIONS
    assert all(s["end"] <= prelabel.MAX_CHARS for s in spans)
    tail = "x" * prelabel.MAX_CHARS + " " + para  # a figure past the first MAX_CHARS characters
    assert prelabel_result(tail, language="fr") == []


def test_rules_whose_labels_the_layers_lack_are_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    """Prelabels follow the layers: without Quote no quote (nor speaker) is proposed, without
    the claim_type attribute a figure Claim comes without it (review finding: literals)."""
    from dataclasses import replace

    from newscorpus import layers as layers_module
    from newscorpus.layers import SPANS, STANCE, Layers

    text = (
        "« Nous ne céderons rien », a déclaré Marcelo Ebrard lundi. "
        "Les saisies ont augmenté de 40 % en 2025 selon le ministère."
    )
    full = prelabel_result(text, language="fr")
    assert {"Quote", "Claim"} <= {i["value"]["labels"][0] for i in full if "labels" in i["value"]}
    no_quote = replace(SPANS, labels=tuple(v for v in SPANS.labels if v.name != "Quote"))
    monkeypatch.setattr(layers_module, "LAYERS", Layers(stance=STANCE, spans=no_quote))
    got = prelabel_result(text, language="fr")
    labels = [i["value"]["labels"][0] for i in got if "labels" in i.get("value", {})]
    assert "Quote" not in labels and "Speaker" not in labels and "Claim" in labels
    assert not [i for i in got if i["type"] == "relation"]
    no_attr = replace(
        SPANS, attributes=tuple(a for a in SPANS.attributes if a.name != "claim_type")
    )
    monkeypatch.setattr(layers_module, "LAYERS", Layers(stance=STANCE, spans=no_attr))
    got = prelabel_result(text, language="fr")
    assert [i for i in got if i["type"] == "labels" and i["value"]["labels"] == ["Claim"]]
    assert not [i for i in got if i.get("from_name") == "claim_type"]
