"""The served model: `manifest` (what a bundle says about itself), `calibration` (confidence from
holdout residuals), `bundle` (save, load, validate, predict) and `recommend` (the betting rule)."""
