"""Player and team identity in imports: the spellings sources use resolve to one warehouse id."""

from __future__ import annotations

import pytest

from nba_props.importers.names import PlayerNames, normalise_name, resolve_team

PLAYERS = [
    {"player_id": 1, "name": "Nikola Jokić"},
    {"player_id": 2, "name": "Gary Trent Jr."},
    {"player_id": 3, "name": "P.J. Washington"},
    {"player_id": 4, "name": "Chris Twofold"},
    {"player_id": 5, "name": "Chris Twofold"},
    {"player_id": 6, "name": "Robert Williams III"},
    {"player_id": 7, "name": "D'Angelo Russell"},
]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Nikola Jokić", "nikola jokic"),
        ("NIKOLA JOKIC", "nikola jokic"),
        ("Gary Trent Jr.", "gary trent"),
        ("Gary Trent, Jr", "gary trent"),
        ("Robert Williams III", "robert williams"),
        ("P.J. Washington", "pj washington"),
        ("P. J. Washington", "pj washington"),
        ("PJ Washington", "pj washington"),
        ("D\u2019Angelo Russell", "dangelo russell"),
        ("Karl-Anthony Towns", "karl anthony towns"),
        ("  Dennis   Schröder ", "dennis schroder"),
        ("Alperen Şengün", "alperen sengun"),
    ],
)
def test_names_are_normalised_for_accents_suffixes_punctuation_and_case(raw: str, expected: str) -> None:
    assert normalise_name(raw) == expected


@pytest.mark.parametrize(
    ("raw", "player_id"),
    [
        ("Nikola Jokic", 1),
        ("gary trent", 2),
        ("Gary Trent Jr", 2),
        ("PJ Washington", 3),
        ("Robert Williams", 6),
    ],
)
def test_source_spellings_resolve_to_the_stored_player(raw: str, player_id: int) -> None:
    assert PlayerNames(PLAYERS).resolve(raw).player_id == player_id


def test_an_alias_names_a_player_by_id_or_by_the_stored_spelling() -> None:
    names = PlayerNames(PLAYERS, {"The Joker": "Nikola Jokic", "Twofold (POR)": "5"})
    assert names.resolve("the joker").player_id == 1
    assert names.resolve("Twofold (POR)").player_id == 5


def test_an_unknown_name_and_an_ambiguous_name_resolve_to_nobody_with_the_reason() -> None:
    names = PlayerNames(PLAYERS)
    unknown, ambiguous = names.resolve("Someone Else"), names.resolve("Chris Twofold")
    assert (unknown.player_id, unknown.reason, unknown.normalised) == (None, "no_match", "someone else")
    assert (ambiguous.player_id, ambiguous.reason) == (None, "ambiguous")


@pytest.mark.parametrize(
    "value",
    [1610612746, "1610612746", "LAC", "lac", "LA Clippers", "Los Angeles Clippers", "Clippers"],
)
def test_a_team_resolves_by_id_tricode_or_name(value: object) -> None:
    team = resolve_team(value)
    assert team is not None and team.abbreviation == "LAC"


@pytest.mark.parametrize("value", ["Portland Trail Blazers", "Trail Blazers", "Blazers", "POR"])
def test_a_two_word_nickname_resolves(value: str) -> None:
    team = resolve_team(value)
    assert team is not None and team.abbreviation == "POR"


@pytest.mark.parametrize("value", [None, "", "Springfield Atoms", 42, True, ["DAL"], 0])
def test_anything_else_is_no_team(value: object) -> None:
    assert resolve_team(value) is None
