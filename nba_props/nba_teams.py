"""The 30 NBA franchises as constant data: ids and abbreviations as nba_api spells them, arenas as of
the 2025-26 season, and the IANA time zone each arena keeps its clocks in.

The synthetic league and the importer of real game logs both key on these, so an abbreviation that
appears in a source must resolve here (see `ABBREVIATION_ALIASES` for other sources' spellings).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

import pandas as pd


class Conference(StrEnum):
    EAST = "East"
    WEST = "West"


@dataclass(frozen=True)
class NbaTeam:
    team_id: int
    abbreviation: str
    name: str
    conference: Conference
    division: str
    arena_name: str
    arena_lat: float
    arena_lon: float
    time_zone: str


_E, _W = Conference.EAST, Conference.WEST

# Ordered by team id, as nba_api lists them. Arena names follow the 2025 renamings (Rocket Arena,
# Xfinity Mobile Arena, Mortgage Matchup Center). Time zones are the arena's own: Phoenix keeps no
# daylight saving, Salt Lake City is Mountain time, Indianapolis and Detroit have zones of their own
# in the tz database even though they currently observe Eastern time, Toronto is Canadian Eastern.
NBA_TEAMS: tuple[NbaTeam, ...] = (
    NbaTeam(
        team_id=1610612737,
        abbreviation="ATL",
        name="Atlanta Hawks",
        conference=_E,
        division="Southeast",
        arena_name="State Farm Arena",
        arena_lat=33.7573,
        arena_lon=-84.3963,
        time_zone="America/New_York",
    ),
    NbaTeam(
        team_id=1610612738,
        abbreviation="BOS",
        name="Boston Celtics",
        conference=_E,
        division="Atlantic",
        arena_name="TD Garden",
        arena_lat=42.3662,
        arena_lon=-71.0621,
        time_zone="America/New_York",
    ),
    NbaTeam(
        team_id=1610612739,
        abbreviation="CLE",
        name="Cleveland Cavaliers",
        conference=_E,
        division="Central",
        arena_name="Rocket Arena",
        arena_lat=41.4965,
        arena_lon=-81.6882,
        time_zone="America/New_York",
    ),
    NbaTeam(
        team_id=1610612740,
        abbreviation="NOP",
        name="New Orleans Pelicans",
        conference=_W,
        division="Southwest",
        arena_name="Smoothie King Center",
        arena_lat=29.9490,
        arena_lon=-90.0821,
        time_zone="America/Chicago",
    ),
    NbaTeam(
        team_id=1610612741,
        abbreviation="CHI",
        name="Chicago Bulls",
        conference=_E,
        division="Central",
        arena_name="United Center",
        arena_lat=41.8807,
        arena_lon=-87.6742,
        time_zone="America/Chicago",
    ),
    NbaTeam(
        team_id=1610612742,
        abbreviation="DAL",
        name="Dallas Mavericks",
        conference=_W,
        division="Southwest",
        arena_name="American Airlines Center",
        arena_lat=32.7905,
        arena_lon=-96.8103,
        time_zone="America/Chicago",
    ),
    NbaTeam(
        team_id=1610612743,
        abbreviation="DEN",
        name="Denver Nuggets",
        conference=_W,
        division="Northwest",
        arena_name="Ball Arena",
        arena_lat=39.7487,
        arena_lon=-105.0077,
        time_zone="America/Denver",
    ),
    NbaTeam(
        team_id=1610612744,
        abbreviation="GSW",
        name="Golden State Warriors",
        conference=_W,
        division="Pacific",
        arena_name="Chase Center",
        arena_lat=37.7680,
        arena_lon=-122.3877,
        time_zone="America/Los_Angeles",
    ),
    NbaTeam(
        team_id=1610612745,
        abbreviation="HOU",
        name="Houston Rockets",
        conference=_W,
        division="Southwest",
        arena_name="Toyota Center",
        arena_lat=29.7508,
        arena_lon=-95.3621,
        time_zone="America/Chicago",
    ),
    NbaTeam(
        team_id=1610612746,
        abbreviation="LAC",
        name="LA Clippers",
        conference=_W,
        division="Pacific",
        arena_name="Intuit Dome",
        arena_lat=33.9447,
        arena_lon=-118.3417,
        time_zone="America/Los_Angeles",
    ),
    NbaTeam(
        team_id=1610612747,
        abbreviation="LAL",
        name="Los Angeles Lakers",
        conference=_W,
        division="Pacific",
        arena_name="Crypto.com Arena",
        arena_lat=34.0430,
        arena_lon=-118.2673,
        time_zone="America/Los_Angeles",
    ),
    NbaTeam(
        team_id=1610612748,
        abbreviation="MIA",
        name="Miami Heat",
        conference=_E,
        division="Southeast",
        arena_name="Kaseya Center",
        arena_lat=25.7814,
        arena_lon=-80.1870,
        time_zone="America/New_York",
    ),
    NbaTeam(
        team_id=1610612749,
        abbreviation="MIL",
        name="Milwaukee Bucks",
        conference=_E,
        division="Central",
        arena_name="Fiserv Forum",
        arena_lat=43.0451,
        arena_lon=-87.9172,
        time_zone="America/Chicago",
    ),
    NbaTeam(
        team_id=1610612750,
        abbreviation="MIN",
        name="Minnesota Timberwolves",
        conference=_W,
        division="Northwest",
        arena_name="Target Center",
        arena_lat=44.9795,
        arena_lon=-93.2761,
        time_zone="America/Chicago",
    ),
    NbaTeam(
        team_id=1610612751,
        abbreviation="BKN",
        name="Brooklyn Nets",
        conference=_E,
        division="Atlantic",
        arena_name="Barclays Center",
        arena_lat=40.6826,
        arena_lon=-73.9754,
        time_zone="America/New_York",
    ),
    NbaTeam(
        team_id=1610612752,
        abbreviation="NYK",
        name="New York Knicks",
        conference=_E,
        division="Atlantic",
        arena_name="Madison Square Garden",
        arena_lat=40.7505,
        arena_lon=-73.9934,
        time_zone="America/New_York",
    ),
    NbaTeam(
        team_id=1610612753,
        abbreviation="ORL",
        name="Orlando Magic",
        conference=_E,
        division="Southeast",
        arena_name="Kia Center",
        arena_lat=28.5392,
        arena_lon=-81.3839,
        time_zone="America/New_York",
    ),
    NbaTeam(
        team_id=1610612754,
        abbreviation="IND",
        name="Indiana Pacers",
        conference=_E,
        division="Central",
        arena_name="Gainbridge Fieldhouse",
        arena_lat=39.7640,
        arena_lon=-86.1555,
        time_zone="America/Indiana/Indianapolis",
    ),
    NbaTeam(
        team_id=1610612755,
        abbreviation="PHI",
        name="Philadelphia 76ers",
        conference=_E,
        division="Atlantic",
        arena_name="Xfinity Mobile Arena",
        arena_lat=39.9012,
        arena_lon=-75.1720,
        time_zone="America/New_York",
    ),
    NbaTeam(
        team_id=1610612756,
        abbreviation="PHX",
        name="Phoenix Suns",
        conference=_W,
        division="Pacific",
        arena_name="Mortgage Matchup Center",
        arena_lat=33.4457,
        arena_lon=-112.0712,
        time_zone="America/Phoenix",
    ),
    NbaTeam(
        team_id=1610612757,
        abbreviation="POR",
        name="Portland Trail Blazers",
        conference=_W,
        division="Northwest",
        arena_name="Moda Center",
        arena_lat=45.5316,
        arena_lon=-122.6668,
        time_zone="America/Los_Angeles",
    ),
    NbaTeam(
        team_id=1610612758,
        abbreviation="SAC",
        name="Sacramento Kings",
        conference=_W,
        division="Pacific",
        arena_name="Golden 1 Center",
        arena_lat=38.5802,
        arena_lon=-121.4997,
        time_zone="America/Los_Angeles",
    ),
    NbaTeam(
        team_id=1610612759,
        abbreviation="SAS",
        name="San Antonio Spurs",
        conference=_W,
        division="Southwest",
        arena_name="Frost Bank Center",
        arena_lat=29.4270,
        arena_lon=-98.4375,
        time_zone="America/Chicago",
    ),
    NbaTeam(
        team_id=1610612760,
        abbreviation="OKC",
        name="Oklahoma City Thunder",
        conference=_W,
        division="Northwest",
        arena_name="Paycom Center",
        arena_lat=35.4634,
        arena_lon=-97.5151,
        time_zone="America/Chicago",
    ),
    NbaTeam(
        team_id=1610612761,
        abbreviation="TOR",
        name="Toronto Raptors",
        conference=_E,
        division="Atlantic",
        arena_name="Scotiabank Arena",
        arena_lat=43.6435,
        arena_lon=-79.3791,
        time_zone="America/Toronto",
    ),
    NbaTeam(
        team_id=1610612762,
        abbreviation="UTA",
        name="Utah Jazz",
        conference=_W,
        division="Northwest",
        arena_name="Delta Center",
        arena_lat=40.7683,
        arena_lon=-111.9011,
        time_zone="America/Denver",
    ),
    NbaTeam(
        team_id=1610612763,
        abbreviation="MEM",
        name="Memphis Grizzlies",
        conference=_W,
        division="Southwest",
        arena_name="FedExForum",
        arena_lat=35.1382,
        arena_lon=-90.0506,
        time_zone="America/Chicago",
    ),
    NbaTeam(
        team_id=1610612764,
        abbreviation="WAS",
        name="Washington Wizards",
        conference=_E,
        division="Southeast",
        arena_name="Capital One Arena",
        arena_lat=38.8981,
        arena_lon=-77.0209,
        time_zone="America/New_York",
    ),
    NbaTeam(
        team_id=1610612765,
        abbreviation="DET",
        name="Detroit Pistons",
        conference=_E,
        division="Central",
        arena_name="Little Caesars Arena",
        arena_lat=42.3411,
        arena_lon=-83.0553,
        time_zone="America/Detroit",
    ),
    NbaTeam(
        team_id=1610612766,
        abbreviation="CHA",
        name="Charlotte Hornets",
        conference=_E,
        division="Southeast",
        arena_name="Spectrum Center",
        arena_lat=35.2251,
        arena_lon=-80.8392,
        time_zone="America/New_York",
    ),
)

# Spellings other sources use for the same franchises (basketball-reference: BRK, PHO, CHO; older
# nba_api seasons and relocated franchises: NJN, NOH, NOK, SEA, VAN; ESPN-style short forms).
ABBREVIATION_ALIASES: Mapping[str, str] = MappingProxyType(
    {
        "BRK": "BKN",
        "NJN": "BKN",
        "PHO": "PHX",
        "CHO": "CHA",
        "NOH": "NOP",
        "NOK": "NOP",
        "NO": "NOP",
        "SEA": "OKC",
        "VAN": "MEM",
        "GS": "GSW",
        "SA": "SAS",
        "NY": "NYK",
        "WSH": "WAS",
        "UTAH": "UTA",
    }
)

_BY_ABBREVIATION: Mapping[str, NbaTeam] = MappingProxyType({t.abbreviation: t for t in NBA_TEAMS})
_BY_ID: Mapping[int, NbaTeam] = MappingProxyType({t.team_id: t for t in NBA_TEAMS})


def team_by_abbreviation(abbreviation: str) -> NbaTeam:
    """The team an abbreviation names, accepting other sources' spellings; KeyError if none."""
    key = abbreviation.strip().upper()
    return _BY_ABBREVIATION[ABBREVIATION_ALIASES.get(key, key)]


def team_by_id(team_id: int) -> NbaTeam:
    """The team with this nba_api team id; KeyError if none."""
    return _BY_ID[int(team_id)]


def teams_frame() -> pd.DataFrame:
    """The 30 franchises as ``teams`` rows (the synthetic league and the importer both load these)."""
    return pd.DataFrame(
        {
            "team_id": [t.team_id for t in NBA_TEAMS],
            "abbreviation": [t.abbreviation for t in NBA_TEAMS],
            "name": [t.name for t in NBA_TEAMS],
            "conference": [t.conference.value for t in NBA_TEAMS],
            "arena_name": [t.arena_name for t in NBA_TEAMS],
            "arena_lat": [t.arena_lat for t in NBA_TEAMS],
            "arena_lon": [t.arena_lon for t in NBA_TEAMS],
            "time_zone": [t.time_zone for t in NBA_TEAMS],
        }
    )
