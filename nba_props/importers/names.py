"""Who a source means: player names resolved to ids (accents, suffixes, punctuation and case
normalised, plus an alias table), teams by id, tricode or name."""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nba_props.importers.source import ImportRefused, decode, read_bytes, read_csv
from nba_props.nba_teams import ABBREVIATION_ALIASES, NBA_TEAMS, NbaTeam

_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv", "v"})
_NOT_WORD = re.compile(r"[^a-z0-9 ]+")
# Letters NFKD does not decompose into a base letter and a mark.
_FOLDED = str.maketrans({"ø": "o", "đ": "d", "ł": "l", "ß": "ss", "æ": "ae", "œ": "oe", "\u0131": "i"})


def normalise_name(name: str) -> str:
    """ "Nikola Jokić" and "nikola jokic" → "nikola jokic"; "Gary Trent Jr." → "gary trent";
    "P.J. Washington" and "PJ Washington" → "pj washington"."""
    folded = unicodedata.normalize("NFKD", name.casefold().translate(_FOLDED))
    plain = "".join(c for c in folded if not unicodedata.combining(c))
    plain = plain.replace("'", "").replace("\u2019", "")  # D'Angelo → dangelo
    words = _NOT_WORD.sub(" ", plain).split()
    # "P. J." → "pj": consecutive single letters are one word of initials.
    joined: list[str] = []
    for i, word in enumerate(words):
        if len(word) == 1 and i > 0 and len(words[i - 1]) == 1:
            joined[-1] += word
        else:
            joined.append(word)
    words = joined
    while len(words) > 1 and words[-1] in _SUFFIXES:
        words.pop()
    return " ".join(words)


@dataclass(frozen=True)
class Resolution:
    player_id: int | None
    normalised: str
    reason: str | None = None  # "no_match" | "ambiguous" when player_id is None


class PlayerNames:
    """Resolves source names against the ``players`` table and an alias table (alias → player id
    or the name the warehouse spells)."""

    def __init__(
        self, players: Iterable[Mapping[str, Any]], aliases: Mapping[str, str] | None = None
    ) -> None:
        self._ids: dict[str, set[int]] = defaultdict(set)
        for player in players:
            self._ids[normalise_name(str(player["name"]))].add(int(player["player_id"]))
        self._aliases = {normalise_name(k): v for k, v in (aliases or {}).items()}

    def resolve(self, raw: str) -> Resolution:
        key = normalise_name(raw)
        target = self._aliases.get(key)
        if target is not None:
            if target.isdigit():
                return Resolution(int(target), key)
            key_ids = self._ids.get(normalise_name(target), set())
        else:
            key_ids = self._ids.get(key, set())
        if len(key_ids) == 1:
            return Resolution(next(iter(key_ids)), key)
        return Resolution(None, key, "ambiguous" if key_ids else "no_match")

    def known(self, player_id: int) -> bool:
        return any(player_id in ids for ids in self._ids.values())


def read_aliases(path: Path | None) -> dict[str, str]:
    """An alias CSV (``alias,player`` where player is an id or the warehouse's spelling)."""
    if path is None:
        return {}
    rows = read_csv(path, decode(path, read_bytes(path)), ("alias", "player"))
    aliases: dict[str, str] = {}
    for row in rows:
        alias, player = row.cells["alias"], row.cells["player"]
        if not alias or not player:
            raise ImportRefused(f"{path}, {row.where}: alias and player are both required")
        aliases[alias] = player
    return aliases


def _team_keys(team: NbaTeam) -> list[str]:
    name = normalise_name(team.name).replace("los angeles", "la")
    keys = [name, name.split()[-1]]
    if name.endswith("trail blazers"):
        keys.append("trail blazers")
    return keys


_TEAMS_BY_KEY: dict[str, NbaTeam] = {key: team for team in NBA_TEAMS for key in _team_keys(team)}
_TEAMS_BY_ID = {team.team_id: team for team in NBA_TEAMS}
_TEAMS_BY_TRICODE = {team.abbreviation: team for team in NBA_TEAMS}


def resolve_team(value: Any) -> NbaTeam | None:
    """A team by nba_api id, tricode (other sources' spellings too) or name ("Boston Celtics",
    "Los Angeles Clippers", "Celtics")."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        return _TEAMS_BY_ID.get(int(value))
    if not isinstance(value, str) or not value.strip():
        return None
    code = value.strip().upper()
    team = _TEAMS_BY_TRICODE.get(ABBREVIATION_ALIASES.get(code, code))
    if team is not None:
        return team
    return _TEAMS_BY_KEY.get(normalise_name(value).replace("los angeles", "la"))
