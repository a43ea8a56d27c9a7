from external_functions.scoring import chunks


def test_chunks_respect_the_limit_and_keep_order():
    items = list(range(100))
    parts = list(chunks(items, lambda _: 7, limit=50))
    assert [x for part in parts for x in part] == items
    assert all(len(part) * 7 <= 50 for part in parts)
    assert len(parts) == 15  # 7 items (49 bytes) per call


def test_an_item_larger_than_the_limit_travels_alone():
    parts = list(chunks(["a", "bbbbbbbbbb", "c"], len, limit=4))
    assert parts == [["a"], ["bbbbbbbbbb"], ["c"]]


def test_no_items_no_calls():
    assert list(chunks([], len)) == []
