"""`python -m nba_props.cli`: the same as `nba-props`."""

from nba_props.cli import main

main()
