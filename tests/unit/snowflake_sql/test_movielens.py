import zipfile

import numpy as np
import pandas as pd
import pytest

from snowflake_sql.movielens import (
    MOVIE_COLUMNS,
    RATING_COLUMNS,
    DatasetError,
    MovieLens,
    read_movielens,
    synthetic_movielens,
)


@pytest.fixture(scope="module")
def small():
    return synthetic_movielens(n_users=40, n_movies=150, n_ratings=1200, seed=3)


def test_synthetic_shapes(small):
    assert isinstance(small, MovieLens)
    assert tuple(small.movies.columns) == MOVIE_COLUMNS
    assert tuple(small.ratings.columns) == RATING_COLUMNS
    assert small.movies.shape == (150, 3)
    assert small.ratings.shape == (1200, 4)
    assert small.movies["movieId"].is_unique
    assert set(small.ratings["movieId"]) <= set(small.movies["movieId"])
    assert small.ratings["userId"].between(1, 40).all()


def test_synthetic_unique_pairs(small):
    assert not small.ratings.duplicated(["userId", "movieId"]).any()


def test_synthetic_ratings_are_half_stars(small):
    ratings = small.ratings["rating"].to_numpy()
    assert set(np.unique(ratings).tolist()) <= {x / 2 for x in range(1, 11)}
    assert ratings.min() >= 0.5
    assert ratings.max() <= 5.0
    assert len(np.unique(ratings)) > 3  # a spread of ratings, not a constant


def test_synthetic_every_user_rates(small):
    assert sorted(small.ratings["userId"].unique().tolist()) == list(range(1, 41))


@pytest.mark.parametrize(("n_users", "n_movies", "n_ratings"), [(30, 5, 30), (10, 10, 100), (25, 40, 60)])
def test_synthetic_edge_sizes(n_users, n_movies, n_ratings):
    data = synthetic_movielens(n_users=n_users, n_movies=n_movies, n_ratings=n_ratings, seed=0)
    assert len(data.ratings) == n_ratings
    assert data.ratings["userId"].nunique() == n_users
    assert not data.ratings.duplicated(["userId", "movieId"]).any()


def test_synthetic_fewer_ratings_than_users_keeps_promise_or_refuses():
    # The docstring promises every user rates at least one movie; with fewer ratings than users
    # that is impossible, so the call should refuse (as it does for too many ratings).
    with pytest.raises(ValueError, match="ratings"):
        synthetic_movielens(n_users=50, n_movies=20, n_ratings=10, seed=0)


def test_synthetic_too_many_ratings_refused():
    with pytest.raises(ValueError, match="n_ratings must be"):
        synthetic_movielens(n_users=3, n_movies=4, n_ratings=13)


def test_synthetic_deterministic_per_seed(small):
    again = synthetic_movielens(n_users=40, n_movies=150, n_ratings=1200, seed=3)
    pd.testing.assert_frame_equal(again.movies, small.movies)
    pd.testing.assert_frame_equal(again.ratings, small.ratings)
    other = synthetic_movielens(n_users=40, n_movies=150, n_ratings=1200, seed=4)
    assert not other.ratings.equals(small.ratings)


def write_folder(data, folder):
    folder.mkdir(parents=True, exist_ok=True)
    data.movies.to_csv(folder / "movies.csv", index=False)
    data.ratings.to_csv(folder / "ratings.csv", index=False)
    return folder


def write_zip(path, members):
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return path


def test_read_folder_and_zip_agree(small, tmp_path):
    folder = write_folder(small, tmp_path / "ml-latest-small")
    archive = write_zip(
        tmp_path / "ml-latest-small.zip",
        {
            "ml-latest-small/": "",
            "ml-latest-small/movies.csv": (folder / "movies.csv").read_text(),
            "ml-latest-small/ratings.csv": (folder / "ratings.csv").read_text(),
            "ml-latest-small/README.txt": "readme",
        },
    )
    from_folder = read_movielens(folder)
    from_zip = read_movielens(archive)
    pd.testing.assert_frame_equal(from_folder.movies, from_zip.movies)
    pd.testing.assert_frame_equal(from_folder.ratings, from_zip.ratings)
    pd.testing.assert_frame_equal(from_folder.ratings, small.ratings)
    pd.testing.assert_frame_equal(from_folder.movies, small.movies, check_dtype=False)
    assert tuple(from_folder.movies.columns) == MOVIE_COLUMNS


def test_read_keeps_only_known_columns_and_quoted_titles(tmp_path):
    folder = tmp_path / "ml"
    folder.mkdir()
    (folder / "movies.csv").write_text('movieId,title,genres,extra\n1,"Heat, The (1995)",Action|Crime,x\n')
    (folder / "ratings.csv").write_text("userId,movieId,rating,timestamp,extra\n1,1,4.5,964982703,y\n")
    data = read_movielens(folder)
    assert tuple(data.movies.columns) == MOVIE_COLUMNS
    assert tuple(data.ratings.columns) == RATING_COLUMNS
    assert data.movies.loc[0, "title"] == "Heat, The (1995)"
    assert data.ratings.loc[0, "rating"] == 4.5


def test_folder_without_ratings(small, tmp_path):
    folder = write_folder(small, tmp_path / "ml")
    (folder / "ratings.csv").unlink()
    with pytest.raises(DatasetError, match=r"has no ratings\.csv"):
        read_movielens(folder)


def test_zip_without_ratings(small, tmp_path):
    archive = write_zip(tmp_path / "ml.zip", {"ml/movies.csv": small.movies.to_csv(index=False)})
    with pytest.raises(DatasetError, match=r"contains no ratings\.csv"):
        read_movielens(archive)


def test_not_a_zip(tmp_path):
    path = tmp_path / "ml.zip"
    path.write_text("userId,movieId\n")
    with pytest.raises(DatasetError, match="neither a folder nor a readable zip"):
        read_movielens(path)


def test_missing_path(tmp_path):
    with pytest.raises(DatasetError, match="neither a folder nor a readable zip"):
        read_movielens(tmp_path / "absent.zip")


def test_ratings_missing_column(small, tmp_path):
    folder = write_folder(small, tmp_path / "ml")
    small.ratings.drop(columns=["rating"]).to_csv(folder / "ratings.csv", index=False)
    with pytest.raises(DatasetError, match=r"ratings\.csv has no column rating"):
        read_movielens(folder)
    archive = write_zip(
        tmp_path / "ml.zip",
        {"movies.csv": (folder / "movies.csv").read_text(), "ratings.csv": (folder / "ratings.csv").read_text()},
    )
    with pytest.raises(DatasetError, match=r"ratings\.csv has no column rating"):
        read_movielens(archive)


def test_an_archive_with_two_ratings_files_is_refused(small, tmp_path):
    """Which of two would be loaded is a guess; the load must not replace a table on a guess."""
    movies, ratings = small.movies.to_csv(index=False), small.ratings.to_csv(index=False)
    archive = write_zip(
        tmp_path / "ml.zip",
        {
            "ml-latest-small/movies.csv": movies,
            "ml-latest-small/ratings.csv": ratings,
            "backup/ratings.csv": "userId,movieId,rating,timestamp\n1,1,5.0,0\n",
        },
    )
    with pytest.raises(DatasetError) as info:
        read_movielens(archive)
    assert str(info.value) == (
        f"{archive} holds 2 files named ratings.csv (backup/ratings.csv, ml-latest-small/ratings.csv): "
        "give an archive with exactly one MovieLens dataset."
    )


@pytest.mark.parametrize(
    "paths",
    [("a/movies.csv", "b/ratings.csv"), ("movies.csv", "ml/ratings.csv"), ("x/ml/movies.csv", "x/ml/ratings.csv")],
)
def test_the_two_files_must_sit_side_by_side_at_most_one_folder_deep(small, tmp_path, paths):
    archive = write_zip(
        tmp_path / "ml.zip",
        {paths[0]: small.movies.to_csv(index=False), paths[1]: small.ratings.to_csv(index=False)},
    )
    with pytest.raises(DatasetError, match="must sit side by side at the top or in one folder"):
        read_movielens(archive)


def test_macos_resource_forks_are_not_datasets(small, tmp_path):
    folder = write_folder(small, tmp_path / "ml")
    archive = write_zip(
        tmp_path / "ml.zip",
        {
            "ml/movies.csv": (folder / "movies.csv").read_text(),
            "ml/ratings.csv": (folder / "ratings.csv").read_text(),
            "__MACOSX/ml/ratings.csv": "garbage",
        },
    )
    assert len(read_movielens(archive).ratings) == len(small.ratings)


def test_an_unreadable_csv_is_one_line(tmp_path):
    folder = tmp_path / "ml"
    folder.mkdir()
    (folder / "movies.csv").write_text("movieId,title,genres\n1,A,B\n")
    (folder / "ratings.csv").write_text('userId,movieId,rating,timestamp\n1,1,"4.5,0\n2,2,3.0,1\n')
    with pytest.raises(DatasetError) as info:
        read_movielens(folder)
    assert "\n" not in str(info.value) and str(info.value).startswith("ratings.csv is not a readable CSV file")
