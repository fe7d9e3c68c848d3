"""Importers of what a real night needs before tip-off: schedules, prop lines, injury reports and
rosters, from public layouts (docs/formats/) into the warehouse. Each file is validated whole before
anything is written, and a re-import adds nothing."""
