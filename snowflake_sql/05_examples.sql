-- 05 The seed guide's queries, run against the external functions `cdk deploy` created.
-- Run them one at a time, in order: train, wait for the job, deploy, then ask for
-- predictions and recommendations. Reading the recommendations table needs no function.

-- A sample of (user, movie) pairs users have not rated, to ask the model about: users 1-5,
-- each with the 20 most-rated movies they have not rated themselves.
CREATE OR REPLACE VIEW {{ DATABASE }}.{{ SCHEMA }}.NO_RATINGS AS
WITH MOVIE_POPULARITY AS (
    SELECT MOVIEID, COUNT(*) AS RATING_COUNT
    FROM {{ DATABASE }}.{{ SCHEMA }}.RATINGS
    GROUP BY MOVIEID
),
SAMPLE_USERS AS (
    SELECT DISTINCT USERID
    FROM {{ DATABASE }}.{{ SCHEMA }}.RATINGS
    WHERE USERID BETWEEN 1 AND 5
),
UNRATED AS (
    SELECT
        u.USERID,
        p.MOVIEID,
        ROW_NUMBER() OVER (PARTITION BY u.USERID ORDER BY p.RATING_COUNT DESC, p.MOVIEID) AS POPULARITY_RANK
    FROM SAMPLE_USERS u
    CROSS JOIN MOVIE_POPULARITY p
    WHERE NOT EXISTS (
        SELECT 1
        FROM {{ DATABASE }}.{{ SCHEMA }}.RATINGS r
        WHERE r.USERID = u.USERID AND r.MOVIEID = p.MOVIEID
    )
)
SELECT USERID, MOVIEID
FROM UNRATED
WHERE POPULARITY_RANK <= 20;

-- Train on all ratings. The answer names the SageMaker training job; the job writes every
-- user's top 10 into the recommendations table when it finishes (minutes). An optional
-- third argument tunes the model, e.g. OBJECT_CONSTRUCT('n_epochs', 30, 'top_k', 20), or ranks the
-- lists as the seed guide did: OBJECT_CONSTRUCT('ranking', 'predicted_rating').
SELECT {{ TRAIN_AND_GET_RECOMMENDATIONS }}(
    '{{ DATABASE }}.{{ SCHEMA }}.RATINGS',
    '{{ DATABASE }}.{{ SCHEMA }}.{{ RECOMMENDATIONS_TABLE }}'
) AS TRAINING_JOB;

-- Follow that job (run right after the statement above): status, failure reason, metrics.
SELECT {{ PIPELINE_STATUS }}(TRAINING_JOB:training_job_name::VARCHAR) AS TRAINING_STATUS
FROM TABLE(RESULT_SCAN(LAST_QUERY_ID()));

-- Serve the newest completed model as '{{ MODEL_NAME }}'. 'latest' is the newest job that wrote the
-- table the endpoint serves now (for a model not deployed yet: of any table, named in the answer's
-- output_table); 'latest:DB.SCHEMA.TABLE' names the table. Safe to repeat: the same model answers
-- action 'unchanged'; a newer one replaces the old without downtime. A third argument
-- {'min_ndcg_gain': 0.0} deploys only a model whose validation NDCG@10 is no worse than the served one's.
SELECT {{ DEPLOY_MODEL }}('{{ MODEL_NAME }}', 'latest') AS DEPLOYMENT;

-- The endpoint's status: wait for InService before asking for predictions.
SELECT {{ PIPELINE_STATUS }}('{{ MODEL_NAME }}') AS ENDPOINT_STATUS;

-- The seed's query: predicted stars for each sampled pair, best first per user.
SELECT
    nr.USERID,
    nr.MOVIEID,
    m.TITLE,
    {{ INVOKE_MODEL }}('{{ MODEL_NAME }}', nr.USERID, nr.MOVIEID) AS PREDICTED_RATING
FROM {{ DATABASE }}.{{ SCHEMA }}.NO_RATINGS nr
JOIN {{ DATABASE }}.{{ SCHEMA }}.MOVIES m ON nr.MOVIEID = m.MOVIEID
ORDER BY nr.USERID, PREDICTED_RATING DESC;

-- Live recommendations from the endpoint: user 1's top 10 with titles.
SELECT f.INDEX + 1 AS RECOMMENDATION_RANK, m.MOVIEID, m.TITLE
FROM (SELECT {{ RECOMMEND }}('{{ MODEL_NAME }}', 1, 10) AS MOVIEIDS) rec,
    LATERAL FLATTEN(INPUT => rec.MOVIEIDS) f,
    {{ DATABASE }}.{{ SCHEMA }}.MOVIES m
WHERE m.MOVIEID = f.VALUE::NUMBER
ORDER BY RECOMMENDATION_RANK;

-- Batch recommendations written by the last training job, with titles: one row per
-- (user, rank), rank 1 best.
SELECT
    r.USERID,
    f.INDEX + 1 AS RECOMMENDATION_RANK,
    m.MOVIEID,
    m.TITLE,
    r.PREDICTED_RATINGS[f.INDEX]::FLOAT AS PREDICTED_RATING
FROM {{ DATABASE }}.{{ SCHEMA }}.{{ RECOMMENDATIONS_TABLE }} r,
    LATERAL FLATTEN(INPUT => r.TOP_10_RECOMMENDATIONS) f,
    {{ DATABASE }}.{{ SCHEMA }}.MOVIES m
WHERE m.MOVIEID = f.VALUE::NUMBER AND r.USERID BETWEEN 1 AND 5
ORDER BY r.USERID, RECOMMENDATION_RANK;

-- When the endpoint is no longer wanted (it bills every hour it runs): take it down. The lists in
-- {{ RECOMMENDATIONS_TABLE }} stay; pipeline_status('{{ MODEL_NAME }}') then says when and why, and
-- deploy_model deploys it again. Left commented out so that running this file keeps the endpoint:
-- SELECT {{ UNDEPLOY_MODEL }}('{{ MODEL_NAME }}') AS UNDEPLOYMENT;
