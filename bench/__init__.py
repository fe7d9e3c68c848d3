"""`make bench`: the loader side by side, the whole night across processes, and scaling.

Run with ``python -m bench`` (``--help`` for the options); it writes ``bench/results.json`` and prints
a table.
"""
