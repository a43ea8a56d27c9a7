-- 02 Tables: the seed guide's MOVIES and RATINGS, and the table training fills with
-- each user's top-10 recommendations.
-- Re-runnable: IF NOT EXISTS never drops loaded ratings or computed recommendations.

-- movies.csv: one row per movie; GENRES is a '|'-separated list, e.g. 'Comedy|Romance'.
CREATE TABLE IF NOT EXISTS {{ DATABASE }}.{{ SCHEMA }}.MOVIES (
    MOVIEID NUMBER,
    TITLE VARCHAR,
    GENRES VARCHAR
);

-- ratings.csv: 0.5-5.0 stars; the file's epoch seconds become TIMESTAMP_NTZ (UTC) on load.
CREATE TABLE IF NOT EXISTS {{ DATABASE }}.{{ SCHEMA }}.RATINGS (
    USERID NUMBER,
    MOVIEID NUMBER,
    RATING FLOAT,
    TIMESTAMP TIMESTAMP_NTZ
);

-- Written by each training job, replacing the previous contents in one transaction.
-- TOP_10_RECOMMENDATIONS: ARRAY of MOVIEIDs, best first (shorter for a user who has rated all
-- but a few movies); PREDICTED_RATINGS: the ARRAY of predicted stars at the same positions;
-- MODEL_VERSION: the training job that produced the row.
CREATE TABLE IF NOT EXISTS {{ DATABASE }}.{{ SCHEMA }}.{{ RECOMMENDATIONS_TABLE }} (
    USERID NUMBER,
    TOP_10_RECOMMENDATIONS VARIANT,
    PREDICTED_RATINGS VARIANT,
    MODEL_VERSION VARCHAR,
    GENERATED_AT TIMESTAMP_NTZ
);
