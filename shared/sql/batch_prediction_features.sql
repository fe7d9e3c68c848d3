-- The predictions of one batch with the feature vectors they were made from (the night checks).
-- params: batch_id STRING, game_date DATE
SELECT player_id, player_name, predicted_points, features_json
FROM predictions
WHERE game_date = @game_date AND batch_id = @batch_id
