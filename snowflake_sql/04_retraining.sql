-- 04 Automated retraining: retrain when ratings change, redeploy the newest model of that table if no worse.
-- Needs the bootstrap applied (make snowflake-bootstrap: 01-02 and the roles), the external
-- functions created by `cdk deploy`, and a role with EXECUTE TASK on the account (granted by
-- ACCOUNTADMIN) that owns the tasks.
-- Re-runnable: the stream and log tables are IF NOT EXISTS (recreating the stream would
-- forget unprocessed changes); the tasks are replaced, then resumed at the end.

-- Stream: the rows inserted into RATINGS since the retraining task last consumed it.
-- Append-only, because new ratings are what call for a new model. A full reload with
-- `recommender-load` re-inserts every row, so it counts as new data too.
CREATE STREAM IF NOT EXISTS {{ DATABASE }}.{{ SCHEMA }}.RATINGS_CHANGES
    ON TABLE {{ DATABASE }}.{{ SCHEMA }}.RATINGS
    APPEND_ONLY = TRUE
    COMMENT = 'New ratings not yet used for training';

-- One row per retraining: when, how many new ratings triggered it, and what the train
-- function answered (training job name, ARN and status; follow it with pipeline_status).
CREATE TABLE IF NOT EXISTS {{ DATABASE }}.{{ SCHEMA }}.RETRAINING_RUNS (
    STARTED_AT TIMESTAMP_LTZ,
    NEW_RATINGS NUMBER,
    TRAINING_JOB VARIANT
);

-- Daily retraining, only on days with new ratings. The WHEN condition is evaluated without
-- starting the warehouse, and checking an empty stream also keeps it from going stale.
-- The body is one statement: the aggregate yields exactly one row, so the train function is
-- called exactly once per run, and the INSERT consumes the stream in the same transaction.
-- If the call fails, nothing commits and the changes wait for the next run. The function
-- only starts a SageMaker job; the job rewrites the recommendations table when it finishes.
CREATE OR REPLACE TASK {{ DATABASE }}.{{ SCHEMA }}.RETRAIN_RECOMMENDER
    WAREHOUSE = {{ WAREHOUSE }}
    SCHEDULE = 'USING CRON 0 3 * * * UTC'
    COMMENT = 'Retrain the recommender daily when RATINGS has new rows'
    WHEN SYSTEM$STREAM_HAS_DATA('{{ DATABASE }}.{{ SCHEMA }}.RATINGS_CHANGES')
AS
    INSERT INTO {{ DATABASE }}.{{ SCHEMA }}.RETRAINING_RUNS (STARTED_AT, NEW_RATINGS, TRAINING_JOB)
    SELECT
        CURRENT_TIMESTAMP(),
        n,
        {{ TRAIN_AND_GET_RECOMMENDATIONS }}(
            '{{ DATABASE }}.{{ SCHEMA }}.RATINGS',
            '{{ DATABASE }}.{{ SCHEMA }}.{{ RECOMMENDATIONS_TABLE }}'
        )
    FROM (SELECT COUNT(*) AS n FROM {{ DATABASE }}.{{ SCHEMA }}.RATINGS_CHANGES);

-- One row per redeployment attempt: deploy_model's answer (endpoint, version, and action
-- 'created', 'updated' or 'unchanged').
CREATE TABLE IF NOT EXISTS {{ DATABASE }}.{{ SCHEMA }}.DEPLOYMENTS (
    DEPLOYED_AT TIMESTAMP_LTZ,
    DEPLOYMENT VARIANT
);

-- Hourly: put the newest completed training job that wrote {{ RECOMMENDATIONS_TABLE }} -- the table the
-- retraining task above rewrites -- behind the '{{ MODEL_NAME }}' endpoint, if it ranks at least as well.
-- 'latest:<table>' never picks a job that wrote another table (an experiment), and the quality guard
-- ('min_ndcg_gain': 0.0) keeps a model whose validation NDCG@10 is below the served one's out: the row
-- then answers action 'refused' with both figures, logged in DEPLOYMENTS, and the endpoint keeps serving.
-- deploy_model is idempotent: while no newer job has completed it answers 'unchanged'
-- and the endpoint keeps serving; a new model replaces the old one without downtime.
-- Until a first training job has completed the call fails; after 24 consecutive failures
-- (a day) Snowflake suspends the task. Train once (05_examples.sql) before applying this
-- file, or resume the task again once a job has completed.
CREATE OR REPLACE TASK {{ DATABASE }}.{{ SCHEMA }}.REDEPLOY_RECOMMENDER
    WAREHOUSE = {{ WAREHOUSE }}
    SCHEDULE = 'USING CRON 30 * * * * UTC'
    SUSPEND_TASK_AFTER_NUM_FAILURES = 24
    COMMENT = 'Deploy the newest completed recommender model of the retrained table hourly, if no worse'
AS
    INSERT INTO {{ DATABASE }}.{{ SCHEMA }}.DEPLOYMENTS (DEPLOYED_AT, DEPLOYMENT)
    SELECT CURRENT_TIMESTAMP(), {{ DEPLOY_MODEL }}('{{ MODEL_NAME }}', 'latest:{{ DATABASE }}.{{ SCHEMA }}.{{ RECOMMENDATIONS_TABLE }}', {'min_ndcg_gain': 0.0});

-- Tasks are created suspended; resuming starts their schedules.
ALTER TASK {{ DATABASE }}.{{ SCHEMA }}.RETRAIN_RECOMMENDER RESUME;

ALTER TASK {{ DATABASE }}.{{ SCHEMA }}.REDEPLOY_RECOMMENDER RESUME;
