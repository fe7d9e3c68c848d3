"""Features: pure functions shared by training and serving.

`window` (the history window and the inputs), `v8` (the V8 features and `compute_features`),
`history` (the long-memory features), `context` (travel, schedule, age) and `sets` (the feature
sets a bundle may name, and the worker's `request_features`).
"""
