"""Movie recommender: Surprise SVD trained on Snowflake ratings, SageMaker train/serve programs.

``python -m recommender.train`` and ``python -m recommender.serve`` are the container's
programs; the modules below are the library they are made of.
"""

__version__ = "1.0.0"
