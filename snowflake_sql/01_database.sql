-- 01 Database and schema for the MovieLens recommender (part of `make snowflake-bootstrap`).
-- Re-runnable: IF NOT EXISTS leaves existing objects (and their data and grants) alone.
-- The warehouse is not created here: name an existing one in cdk.json (snowflake.warehouse).

CREATE DATABASE IF NOT EXISTS {{ DATABASE }};

CREATE SCHEMA IF NOT EXISTS {{ DATABASE }}.{{ SCHEMA }};
