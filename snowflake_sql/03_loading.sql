-- 03 Loading MovieLens CSV files by hand (the seed guide's "Load Data" file format).
-- `recommender-load` needs neither object: it brings its own temporary ones.
-- Re-runnable: IF NOT EXISTS, because replacing the stage would delete files staged in it.

-- The seed's format: one header line, fields optionally enclosed in double quotes
-- (titles such as "American President, The (1995)" contain commas).
CREATE FILE FORMAT IF NOT EXISTS {{ DATABASE }}.{{ SCHEMA }}.MOVIELENS_CSV
    TYPE = CSV
    SKIP_HEADER = 1
    FIELD_OPTIONALLY_ENCLOSED_BY = '"'
    COMMENT = 'MovieLens CSV: header line, optionally double-quoted fields';

-- An internal stage that parses with that format: PUT movies.csv and ratings.csv here, then
-- COPY INTO MOVIES directly; RATINGS needs TO_TIMESTAMP_NTZ($4) on the epoch-seconds column.
CREATE STAGE IF NOT EXISTS {{ DATABASE }}.{{ SCHEMA }}.MOVIELENS_STAGE
    FILE_FORMAT = {{ DATABASE }}.{{ SCHEMA }}.MOVIELENS_CSV
    COMMENT = 'MovieLens CSV uploads';
