"""``recommender``, the operator's command line: the SQL functions' operations from a terminal."""
