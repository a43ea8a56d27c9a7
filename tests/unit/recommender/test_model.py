import dataclasses
import json
import zipfile

import numpy as np
import pytest

from recommender.config import ModelParams, RankingParams
from recommender.fitting import fit_model
from recommender.model import (
    ARRAYS_FILE,
    FORMAT,
    FORMAT_VERSION,
    METADATA_FILE,
    FactorModel,
    IdLookup,
    ModelFormatError,
)
from recommender.ratings import Ratings
from recommender.svd import Metrics, evaluate, fit_svd
from snowflake_sql.movielens import synthetic_movielens
from tests.support.surprise import surprise_svd

PARAMS = ModelParams(n_factors=8, n_epochs=5)


@pytest.fixture(scope="module")
def frame():
    return synthetic_movielens(n_users=60, n_movies=200, n_ratings=3000, seed=1).ratings[
        ["userId", "movieId", "rating"]
    ]


@pytest.fixture(scope="module")
def ratings(frame):
    return Ratings.from_frame(frame, source="synthetic")


@pytest.fixture(scope="module")
def model(ratings):
    return fit_svd(ratings, PARAMS)


@pytest.fixture(scope="module")
def ranked_model(ratings):
    return fit_model(ratings, PARAMS, RankingParams(min_ratings=1))


@pytest.fixture(scope="module")
def surprise_algo(frame, ratings):
    return surprise_svd(frame, PARAMS, ratings.scale)


def test_fit_shapes_and_ids(model, ratings):
    assert model.user_ids.tolist() == sorted(set(ratings.users.tolist()))
    assert model.item_ids.tolist() == sorted(set(ratings.items.tolist()))
    assert model.user_factors.shape == (model.n_users, 8)
    assert model.item_factors.shape == (model.n_items, 8)
    assert model.user_bias.shape == (model.n_users,)
    assert model.item_bias.shape == (model.n_items,)
    assert (model.rating_min, model.rating_max) == ratings.scale
    assert model.global_mean == pytest.approx(ratings.values.mean())
    assert model.rated.n_users == model.n_users
    assert len(model.rated.indices) == len(ratings)


def test_rated_matches_ratings(model, ratings):
    for user in model.user_ids[:10]:
        row = int(model.user_rows(np.array([user]))[0])
        rated_rows = model.rated.indices[model.rated.indptr[row] : model.rated.indptr[row + 1]]
        assert set(model.item_ids[rated_rows].tolist()) == set(ratings.items[ratings.users == user].tolist())


def test_predict_matches_surprise_for_known_pairs(model, ratings, surprise_algo):
    users, items = ratings.users[::7], ratings.items[::7]
    ours = model.predict(users, items)
    theirs = np.array([surprise_algo.predict(int(u), int(i)).est for u, i in zip(users, items, strict=True)])
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5)


def test_predict_matches_surprise_for_unrated_known_pairs(model, ratings, surprise_algo):
    rng = np.random.default_rng(0)
    users = rng.choice(model.user_ids, 300)
    items = rng.choice(model.item_ids, 300)
    ours = model.predict(users, items)
    theirs = np.array([surprise_algo.predict(int(u), int(i)).est for u, i in zip(users, items, strict=True)])
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5)


@pytest.mark.parametrize("case", ["unknown user", "unknown movie", "both unknown"])
def test_predict_matches_surprise_for_unknown_ids(model, surprise_algo, case):
    known_user, known_item = int(model.user_ids[3]), int(model.item_ids[5])
    user = 10**6 if case != "unknown movie" else known_user
    item = 10**6 + 1 if case != "unknown user" else known_item
    ours = model.predict(np.array([user]), np.array([item]))[0]
    assert ours == pytest.approx(surprise_algo.predict(user, item).est, abs=1e-5)
    if case == "both unknown":
        assert ours == pytest.approx(model.global_mean)


def test_predict_is_clipped(model):
    users = np.repeat(model.user_ids, model.n_items)
    items = np.tile(model.item_ids, model.n_users)
    predictions = model.predict(users, items)
    assert predictions.min() >= model.rating_min
    assert predictions.max() <= model.rating_max


def brute_force_recommend(model, user, k):
    row = int(model.user_rows(np.array([user]))[0])
    scores = model.item_bias.astype(np.float64) + model.item_factors.astype(np.float64) @ model.user_factors[
        row
    ].astype(np.float64)
    rated = set(model.rated.indices[model.rated.indptr[row] : model.rated.indptr[row + 1]].tolist())
    order = sorted((i for i in range(model.n_items) if i not in rated), key=lambda i: (-scores[i], i))
    return [int(model.item_ids[i]) for i in order[:k]], scores


def test_recommend_excludes_rated_and_matches_brute_force(model, ratings):
    users = model.user_ids
    recommendations = model.recommend(users, 10)
    assert len(recommendations) == len(users)
    for user, recommended in zip(users.tolist(), recommendations, strict=True):
        assert len(recommended) == 10
        assert not set(recommended) & set(ratings.items[ratings.users == user].tolist())
        expected, scores = brute_force_recommend(model, user, 10)
        if recommended != expected:  # only float32 vs float64 rounding of near-equal scores may differ
            got = scores[model.item_rows(np.array(recommended))]
            want = scores[model.item_rows(np.array(expected))]
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
        else:
            assert recommended == expected


def test_recommend_ranks_by_unclipped_score(model):
    # the estimate (mean + user bias + score) is clipped for predict, but ranking must use the raw score
    user = int(model.user_ids[0])
    expected, _ = brute_force_recommend(model, user, model.n_items)
    assert model.recommend(np.array([user]), model.n_items)[0] == expected


def test_recommend_unknown_user_by_item_bias(model):
    result = model.recommend(np.array([10**7]), 5)[0]
    order = sorted(range(model.n_items), key=lambda i: (-model.item_bias[i], i))[:5]
    assert result == model.item_ids[order].tolist()


def test_save_load_round_trip(model, tmp_path):
    metadata = {"metrics": {"rmse": 0.9}, "fingerprint": "abc"}
    model.save(tmp_path / "m", metadata)
    loaded, meta = FactorModel.load(tmp_path / "m")
    for name in ("user_ids", "item_ids", "user_factors", "item_factors", "user_bias", "item_bias"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(model, name))
        assert getattr(loaded, name).dtype == getattr(model, name).dtype
    np.testing.assert_array_equal(loaded.rated.indptr, model.rated.indptr)
    np.testing.assert_array_equal(loaded.rated.indices, model.rated.indices)
    assert loaded.global_mean == model.global_mean
    assert (loaded.rating_min, loaded.rating_max) == (model.rating_min, model.rating_max)
    assert meta["format"] == FORMAT
    assert meta["format_version"] == FORMAT_VERSION
    assert meta["metrics"] == {"rmse": 0.9}
    assert meta["fingerprint"] == "abc"
    assert meta["n_users"] == model.n_users
    assert meta["n_items"] == model.n_items
    assert meta["n_factors"] == 8
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [METADATA_FILE, ARRAYS_FILE]
    users = model.user_ids[:5]
    assert loaded.recommend(users, 5) == model.recommend(users, 5)


def test_a_ranked_model_round_trips_with_its_ranker(model, tmp_path):
    ranked = fit_model(
        Ratings(model.user_ids[np.repeat(np.arange(model.n_users), np.diff(model.rated.indptr))],
                model.item_ids[model.rated.indices], np.full(len(model.rated.indices), 4.0)),
        PARAMS,
        RankingParams(method="ease", min_ratings=1),
    )  # fmt: skip
    assert ranked.ranking == "ease" and model.ranking == "predicted_rating"
    ranked.save(tmp_path / "m", {})
    loaded, meta = FactorModel.load(tmp_path / "m")
    assert meta["ranking"] == "ease" and meta["ranked_movies"] == ranked.ranker.n_covered
    for name in ("items", "weights", "popularity"):
        np.testing.assert_array_equal(getattr(loaded.ranker, name), getattr(ranked.ranker, name))
    assert loaded.ranker.history_weights is None and loaded.ranker.liked is None
    users = np.concatenate([ranked.user_ids, [-5]])
    assert loaded.recommend(users, 10) == ranked.recommend(users, 10)
    # the lists are the ranker's, not the rating model's
    assert ranked.recommend(ranked.user_ids, 10) != dataclasses.replace(ranked, ranker=None).recommend(
        ranked.user_ids, 10
    )


def test_a_graded_model_round_trips_as_format_3(ranked_model, tmp_path):
    """W1, W2, the liked view's movies, the weight (1 + c d) and liked flag of every rated pair: arrays, no pickle."""
    ranker = ranked_model.ranker
    assert ranked_model.ranking == "graded_ease" and ranker.liked is not None
    ranked_model.save(tmp_path, {})
    with np.load(tmp_path / ARRAYS_FILE, allow_pickle=False) as data:
        assert {"ranker_history_weights", "ranker_liked_items", "ranker_liked_weights", "ranker_liked_rated"} <= set(
            data.files
        )
    loaded, meta = FactorModel.load(tmp_path)
    assert meta["format_version"] == FORMAT_VERSION == 3 and meta["ranking"] == "graded_ease"
    assert meta["liked_view_movies"] == len(ranker.liked.items) == round(0.35 * ranker.n_covered)
    for name in ("items", "weights", "popularity", "history_weights"):
        np.testing.assert_array_equal(getattr(loaded.ranker, name), getattr(ranker, name))
    for name in ("items", "weights", "rated_liked"):
        np.testing.assert_array_equal(getattr(loaded.ranker.liked, name), getattr(ranker.liked, name))
    users = np.concatenate([ranked_model.user_ids, [-5]])
    assert loaded.recommend(users, 10) == ranked_model.recommend(users, 10)


def test_zeroed_graded_options_rank_as_plain_ease(ratings):
    """ranking graded_ease with rating weight, liked weight and popularity exponent 0 writes EASE's lists exactly."""
    plain = fit_model(ratings, PARAMS, RankingParams(method="ease", min_ratings=1))
    zeroed = RankingParams(min_ratings=1, rating_weight=0.0, liked_weight=0.0, popularity_exponent=0.0)
    graded = fit_model(ratings, PARAMS, zeroed)
    assert graded.ranking == "graded_ease" and plain.ranking == "ease"
    users = np.concatenate([plain.user_ids, [10**6]])
    assert graded.recommend(users, 20) == plain.recommend(users, 20)
    # and the default options change the lists
    assert fit_model(ratings, PARAMS, RankingParams(min_ratings=1)).recommend(users, 20) != plain.recommend(users, 20)


def test_format_version_2_models_still_load_and_rank_by_ease(ratings, tmp_path):
    """A version-2 file (EASE's three arrays, no graded ones) loads and lists as it did."""
    plain = fit_model(ratings, PARAMS, RankingParams(method="ease", min_ratings=1))
    plain.save(tmp_path, {})
    with np.load(tmp_path / ARRAYS_FILE, allow_pickle=False) as data:
        assert not [name for name in data.files if name.startswith("ranker_") and name not in
                    ("ranker_items", "ranker_weights", "ranker_popularity")]  # fmt: skip
    document = json.loads((tmp_path / METADATA_FILE).read_text())
    del document["liked_view_movies"]
    (tmp_path / METADATA_FILE).write_text(json.dumps({**document, "format_version": 2}))
    loaded, meta = FactorModel.load(tmp_path)
    assert loaded.ranking == "ease" and meta["format_version"] == 2
    assert loaded.recommend(plain.user_ids, 10) == plain.recommend(plain.user_ids, 10)


def test_format_version_1_models_still_load_and_rank_by_predicted_rating(model, tmp_path):
    model.save(tmp_path, {})
    document = json.loads((tmp_path / METADATA_FILE).read_text())
    for key in ("ranking", "ranked_movies"):
        del document[key]
    (tmp_path / METADATA_FILE).write_text(json.dumps({**document, "format_version": 1}))
    loaded, _ = FactorModel.load(tmp_path)
    assert loaded.ranker is None
    assert loaded.recommend(model.user_ids[:5], 5) == model.recommend(model.user_ids[:5], 5)


def test_save_overwrites(model, tmp_path):
    model.save(tmp_path, {"run": 1})
    model.save(tmp_path, {"run": 2})
    assert FactorModel.load(tmp_path)[1]["run"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == [METADATA_FILE, ARRAYS_FILE]


def test_load_empty_dir(tmp_path):
    with pytest.raises(ModelFormatError, match="No model in"):
        FactorModel.load(tmp_path)


def test_load_missing_dir(tmp_path):
    with pytest.raises(ModelFormatError, match="No model in"):
        FactorModel.load(tmp_path / "absent")


@pytest.mark.parametrize(
    "change",
    [{"format_version": FORMAT_VERSION + 1}, {"format_version": "1"}, {"format": "other"}],
)
def test_load_wrong_format(model, tmp_path, change):
    model.save(tmp_path, {})
    meta_path = tmp_path / METADATA_FILE
    meta_path.write_text(json.dumps({**json.loads(meta_path.read_text()), **change}))
    with pytest.raises(ModelFormatError, match="retrain or use a matching image"):
        FactorModel.load(tmp_path)


def test_load_metadata_not_json(model, tmp_path):
    model.save(tmp_path, {})
    (tmp_path / METADATA_FILE).write_text("{oops")
    with pytest.raises(ModelFormatError, match="is not a JSON object"):
        FactorModel.load(tmp_path)


def test_load_metadata_not_an_object(model, tmp_path):
    model.save(tmp_path, {})
    (tmp_path / METADATA_FILE).write_text("[1, 2]")
    with pytest.raises(ModelFormatError):
        FactorModel.load(tmp_path)


def test_load_garbage_npz(model, tmp_path):
    model.save(tmp_path, {})
    (tmp_path / ARRAYS_FILE).write_bytes(b"this is not a numpy file at all")
    with pytest.raises(ModelFormatError, match="damaged or incomplete"):
        FactorModel.load(tmp_path)


@pytest.mark.parametrize("damage", ["truncated", "bit-flipped"])
def test_load_corrupted_npz(model, tmp_path, damage):
    model.save(tmp_path, {})
    path = tmp_path / ARRAYS_FILE
    data = bytearray(path.read_bytes())
    if damage == "truncated":
        data = data[: len(data) // 2]
    else:
        start = data.find(model.item_factors.tobytes()[:64])  # savez stores arrays uncompressed
        assert start > 0
        data[start + 100] ^= 0xFF  # one array's bytes change: the zip member's CRC no longer matches
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFormatError, match="damaged or incomplete"):
        FactorModel.load(tmp_path)


def test_load_npz_missing_array(model, tmp_path):
    model.save(tmp_path, {})
    path = tmp_path / ARRAYS_FILE
    with np.load(path) as data:
        arrays = {name: data[name] for name in data.files if name != "item_bias"}
    np.savez(path, **arrays)
    with pytest.raises(ModelFormatError, match="damaged or incomplete"):
        FactorModel.load(tmp_path)


def test_load_refuses_pickled_object_array(model, tmp_path):
    model.save(tmp_path, {})
    path = tmp_path / ARRAYS_FILE
    with np.load(path) as data:
        arrays = {name: data[name] for name in data.files}
    arrays["user_ids"] = np.array([{"evil": True}, "x"], dtype=object)
    np.savez(path, **arrays)
    with zipfile.ZipFile(path) as archive:
        assert "user_ids.npy" in archive.namelist()
    with pytest.raises(ModelFormatError, match="damaged or incomplete"):
        FactorModel.load(tmp_path)


def test_evaluate_matches_hand_computation(model, ratings):
    _, holdout = ratings.split(0.2, seed=0)
    holdout = Ratings(
        np.append(holdout.users, [10**6]), np.append(holdout.items, [holdout.items[0]]), np.append(holdout.values, 0.5)
    )
    metrics = evaluate(model, holdout)
    errors = []
    for u, i, v in zip(holdout.users, holdout.items, holdout.values, strict=True):
        estimate = model.global_mean
        urow, irow = model.user_rows(np.array([u]))[0], model.item_rows(np.array([i]))[0]
        if urow >= 0:
            estimate += model.user_bias[urow]
        if irow >= 0:
            estimate += model.item_bias[irow]
        if urow >= 0 and irow >= 0:
            estimate += float(np.dot(model.user_factors[urow].astype(float), model.item_factors[irow].astype(float)))
        errors.append(min(max(estimate, model.rating_min), model.rating_max) - v)
    errors = np.array(errors)
    assert isinstance(metrics, Metrics)
    assert metrics.rmse == pytest.approx(float(np.sqrt(np.mean(errors**2))), rel=1e-9)
    assert metrics.mae == pytest.approx(float(np.mean(np.abs(errors))), rel=1e-9)


def test_evaluate_tiny_example(model):
    users = model.user_ids[:2]
    items = model.item_ids[:2]
    predictions = model.predict(users, items)
    truth = predictions + np.array([1.0, -3.0])
    metrics = evaluate(model, Ratings(users, items, truth))
    assert metrics.rmse == pytest.approx(np.sqrt(5.0))
    assert metrics.mae == pytest.approx(2.0)


@pytest.mark.parametrize(
    "ids",
    [
        np.array([3, 10, 11, 400]),  # compact: dense table
        np.array([-7, 3, 10]),  # negative ids: binary search
        np.array([5, 10**12, 10**15]),  # sparse, huge ids: binary search
        np.array([], dtype=np.int64),
    ],
)
def test_id_lookup_finds_known_ids_and_marks_unknown(ids):
    lookup = IdLookup(ids)
    wanted = np.concatenate([ids[::-1], [-1, 0, 2, 12, 10**13, 2**62]])
    expected = [len(ids) - 1 - j for j in range(len(ids))] + [
        int(np.flatnonzero(ids == w)[0]) if w in ids else -1 for w in [-1, 0, 2, 12, 10**13, 2**62]
    ]
    assert lookup.rows(wanted).tolist() == expected


def _rewrite_arrays(directory, change):
    path = directory / ARRAYS_FILE
    with np.load(path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    change(arrays)
    with path.open("wb") as handle:
        np.savez(handle, **arrays)


def _set(name, index, value):
    def change(arrays):
        arrays[name] = arrays[name].copy()
        arrays[name][index] = value

    return change


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (_set("user_factors", (0, 0), np.nan), "a factor or bias is not a finite number"),
        (_set("item_bias", 3, np.inf), "a factor or bias is not a finite number"),
        (_set("user_ids", 1, -10**9), "the ids are not sorted and unique"),
        (_set("item_ids", 1, 0), "the ids are not sorted and unique"),
        (lambda a: a.update(user_factors=a["user_factors"][:-1]), "user_factors do not match the users"),
        (lambda a: a.update(item_factors=a["item_factors"][:, :-1]), "item_factors do not match"),
        (lambda a: a.update(user_bias=a["user_bias"][:-1]), "a bias has the wrong size"),
        (_set("rated_indices", 0, 10**6), "the rated lists do not match"),
        (_set("rated_indptr", -1, 5), "the rated lists do not match"),
        (_set("scalars", 2, np.nan), "the rating scale is not finite"),
        (lambda a: a.update(user_ids=a["user_ids"].astype(np.float64)), "the ids are not integers"),
    ],
    ids=["nan-factor", "inf-bias", "unsorted-users", "duplicate-movies", "users-vs-factors", "factor-count",
         "bias-size", "rated-out-of-range", "indptr", "scale", "float-ids"],
)  # fmt: skip
def test_an_unsound_model_never_loads(model, tmp_path, change, fragment):
    model.save(tmp_path, {})
    _rewrite_arrays(tmp_path, change)
    with pytest.raises(ModelFormatError) as info:
        FactorModel.load(tmp_path)
    message = str(info.value)
    assert fragment in message and message.endswith("Retrain the model.") and "\n" not in message


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (_set("ranker_weights", (1, 2), np.nan), "a ranker weight is not a finite number"),
        (lambda a: a.update(ranker_popularity=a["ranker_popularity"][:-1]), "the ranker's arrays disagree"),
        (_set("ranker_items", 0, 10**6), "the ranked movies are not movies of the model"),
        (_set("ranker_history_weights", 3, np.inf), "a ranker weight is not a finite number"),
        (lambda a: a.update(ranker_history_weights=a["ranker_history_weights"][1:]), "history weights do not match"),
        (_set("ranker_liked_weights", (0, 1), np.nan), "a ranker weight is not a finite number"),
        (_set("ranker_liked_items", -1, 10**6), "the liked view's movies are not ranked movies"),
        (lambda a: a.update(ranker_liked_rated=a["ranker_liked_rated"][1:]), "the liked view's arrays disagree"),
        (lambda a: a.pop("ranker_history_weights"), "has a liked view but no history weights"),
    ],
    ids=["nan-weight", "popularity-size", "foreign-movie", "inf-history-weight", "history-size", "nan-liked-weight",
         "foreign-liked-movie", "liked-flags-size", "liked-without-history"],
)  # fmt: skip
def test_an_unsound_ranker_never_loads(ranked_model, tmp_path, change, fragment):
    ranked_model.save(tmp_path, {})
    _rewrite_arrays(tmp_path, change)
    with pytest.raises(ModelFormatError, match=fragment):
        FactorModel.load(tmp_path)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [({"n_users": 1}, "does not describe these arrays"), ({"ranking": "predicted_rating"}, "says the lists are ranked"),
     ({"model_version": 5}, "model_version that is not text")],
)  # fmt: skip
def test_metadata_must_describe_the_arrays(ranked_model, tmp_path, change, fragment):
    ranked_model.save(tmp_path, {})
    document = json.loads((tmp_path / METADATA_FILE).read_text())
    (tmp_path / METADATA_FILE).write_text(json.dumps({**document, **change}))
    with pytest.raises(ModelFormatError, match=fragment):
        FactorModel.load(tmp_path)


def test_ids_of_any_integer_value_are_listed(tmp_path):
    """No id value is a sentinel: negative and zero movie ids are recommended like any other."""
    ratings = Ratings(
        users=np.array([-7, -7, 0, 0, 5, 5, 5]),
        items=np.array([-3, 0, -3, 2**40, 0, -1, 2**40]),
        values=np.array([4.0, 3.0, 5.0, 2.0, 4.5, 1.0, 3.5]),
    )
    for ranking in (RankingParams(min_ratings=1), RankingParams(method="predicted_rating")):
        fitted = fit_model(ratings, PARAMS, ranking)
        lists = fitted.recommend(np.array([-7, 0, 5]), 5)
        assert sorted(lists[0]) == [-1, 2**40]
        assert sorted(lists[1]) == [-1, 0]
        assert sorted(lists[2]) == [-3]


@pytest.fixture(scope="module")
def dense_model(model):
    """A model as a Surprise export that keeps every known pair's estimate (KNNBaseline, SlopeOne) and a fallback."""
    rng = np.random.default_rng(5)
    predictions = rng.uniform(-1.0, 6.5, (model.n_users, model.n_items)).astype(np.float32)
    return dataclasses.replace(model, predictions=predictions, unknown_estimate=3.25)


def test_a_dense_model_predicts_its_estimates_and_the_fallback_for_unknown_ids(dense_model):
    users = np.concatenate([dense_model.user_ids[[0, 5, 9]], [10**9, dense_model.user_ids[0], 10**9]])
    items = np.concatenate([dense_model.item_ids[[3, 0, 7]], [dense_model.item_ids[0], 10**9, 10**9]])
    rows, cols = dense_model.user_rows(users[:3]), dense_model.item_rows(items[:3])
    expected = np.clip(dense_model.predictions[rows, cols], 0.5, 5.0)
    np.testing.assert_array_equal(dense_model.predict(users, items), [*expected, 3.25, 3.25, 3.25])


def test_a_dense_model_lists_the_best_unrated_estimates(dense_model):
    user = dense_model.user_ids[4]
    row = int(dense_model.user_rows(np.array([user]))[0])
    scores = dense_model.predictions[row].astype(np.float64)
    scores[dense_model.rated.indices[dense_model.rated.indptr[row] : dense_model.rated.indptr[row + 1]]] = -np.inf
    best = np.argsort(-scores, kind="stable")[:7]
    assert dense_model.recommend(np.array([user]), 7) == [dense_model.item_ids[best].tolist()]
    listed = [block.items for _, block in dense_model.iter_all_top_k(7, memory_budget_bytes=10_000)]
    assert np.concatenate(listed)[row].tolist() == best.tolist()


def test_a_dense_model_round_trips_as_format_3_and_older_files_have_no_dense_arrays(dense_model, model, tmp_path):
    dense_model.save(tmp_path / "dense", {})
    loaded, metadata = FactorModel.load(tmp_path / "dense")
    assert metadata["format_version"] == 3
    np.testing.assert_array_equal(loaded.predictions, dense_model.predictions)
    assert loaded.unknown_estimate == 3.25
    model.save(tmp_path / "plain", {})
    plain, _ = FactorModel.load(tmp_path / "plain")
    assert plain.predictions is None and plain.unknown_estimate is None
    with np.load(tmp_path / "plain" / ARRAYS_FILE) as data:
        assert "predictions" not in data.files and "unknown_estimate" not in data.files


@pytest.mark.parametrize(
    ("change", "fragment"),
    [(_set("predictions", (0, 1), np.nan), "a prediction is not a finite number"),
     (lambda a: a.update(predictions=a["predictions"][:, 1:]), "the predictions do not match the users and movies"),
     (lambda a: a.update(unknown_estimate=np.array(np.inf)), "estimate for unknown users and movies is not a finite"),
     (lambda a: a.update(unknown_estimate=np.array([1.0, 2.0])), "is damaged or incomplete")],
    ids=["nan-prediction", "predictions-shape", "inf-fallback", "fallback-shape"],
)  # fmt: skip
def test_unsound_dense_arrays_never_load(dense_model, tmp_path, change, fragment):
    dense_model.save(tmp_path, {})
    _rewrite_arrays(tmp_path, change)
    with pytest.raises(ModelFormatError, match=fragment):
        FactorModel.load(tmp_path)
