"""The PySpark ALS job behind ``engine=spark``: one file, ``als_job.py``, run by spark-submit (docs/scaling.md)."""
