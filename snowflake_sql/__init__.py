"""The Snowflake side of the pipeline: MovieLens data and the SQL that sets it up."""
