"""nnkit.data: mini-batches, the train/test split, standardisation against scikit-learn, the toy
problems and the digits images."""
import numpy as np
import pytest
from sklearn import datasets as skdata
from sklearn.preprocessing import StandardScaler as SkStandardScaler

from nnkit import data as D
from nnkit.data import DataLoader, StandardScaler, batches


# --- DataLoader ----------------------------------------------------------------------------------------
def epoch_indices(loader):
    return np.concatenate([xb for xb, _ in loader])


@pytest.mark.parametrize("n, batch_size", [(10, 3), (10, 5), (10, 1), (7, 10)])
@pytest.mark.parametrize("shuffle", [False, True])
def test_every_sample_exactly_once_per_epoch(n, batch_size, shuffle):
    X, y = np.arange(n), 10 * np.arange(n)
    loader = DataLoader(X, y, batch_size=batch_size, shuffle=shuffle, seed=0)
    for _ in range(3):
        seen = []
        sizes = []
        for xb, yb in loader:
            np.testing.assert_array_equal(yb, 10 * xb)      # features and labels stay paired
            seen.append(xb)
            sizes.append(len(xb))
        assert sorted(np.concatenate(seen).tolist()) == list(range(n))
        assert len(sizes) == len(loader) == -(-n // batch_size)
        assert sizes[:-1] == [batch_size] * (len(sizes) - 1) and sizes[-1] == n - batch_size * (len(sizes) - 1)


def test_no_shuffle_keeps_the_order():
    np.testing.assert_array_equal(epoch_indices(DataLoader(np.arange(9), np.arange(9), batch_size=4)), np.arange(9))


def test_shuffle_is_reproducible_by_seed_and_differs_between_epochs():
    a = DataLoader(np.arange(50), np.arange(50), batch_size=8, shuffle=True, seed=42)
    b = DataLoader(np.arange(50), np.arange(50), batch_size=8, shuffle=True, seed=42)
    c = DataLoader(np.arange(50), np.arange(50), batch_size=8, shuffle=True, seed=43)
    a1, a2 = epoch_indices(a), epoch_indices(a)
    np.testing.assert_array_equal(a1, epoch_indices(b))
    np.testing.assert_array_equal(a2, epoch_indices(b))
    assert not np.array_equal(a1, a2), "each epoch needs a fresh permutation"
    assert not np.array_equal(a1, epoch_indices(c))
    assert not np.array_equal(a1, np.arange(50))


def test_drop_last_drops_the_partial_batch():
    loader = DataLoader(np.arange(10), np.arange(10), batch_size=4, drop_last=True)
    sizes = [len(xb) for xb, _ in loader]
    assert sizes == [4, 4] and len(loader) == 2


def test_pytorch_defaults_and_x_only_loader():
    loader = DataLoader(np.arange(3))
    assert (loader.batch_size, loader.shuffle, loader.drop_last) == (1, False, False)
    out = list(loader)
    assert len(out) == 3 and all(isinstance(b, np.ndarray) and b.shape == (1,) for b in out)


def test_batches_function_and_multidimensional_samples():
    X = np.arange(2 * 1 * 3 * 3 * 5, dtype=np.float32).reshape(10, 1, 3, 3)
    got = list(batches(X, np.arange(10), batch_size=4, seed=1))
    assert [xb.shape for xb, _ in got] == [(4, 1, 3, 3), (4, 1, 3, 3), (2, 1, 3, 3)]
    assert got[0][0].dtype == np.float32
    for xb, yb in got:
        np.testing.assert_array_equal(xb, X[yb])


def test_loader_does_not_modify_the_data():
    X = np.arange(6.0)
    before = X.copy()
    for xb, _ in DataLoader(X, X, batch_size=4, shuffle=True, seed=0):
        xb *= 0
    np.testing.assert_array_equal(X, before)


def test_loader_rejects_bad_arguments():
    with pytest.raises(ValueError, match="same number of samples"):
        DataLoader(np.zeros((5, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="positive"):
        DataLoader(np.zeros(5), batch_size=0)
    with pytest.raises(TypeError, match="batch_size"):
        DataLoader(np.zeros(5), batch_size=2.0)
    with pytest.raises(TypeError, match="shuffle"):
        DataLoader(np.zeros(5), shuffle="yes")
    with pytest.raises(TypeError, match="seed"):
        DataLoader(np.zeros(5), shuffle=True, seed=1.5)
    with pytest.raises(ValueError, match="no batches"):
        DataLoader(np.zeros(5), batch_size=8, drop_last=True)
    with pytest.raises(ValueError, match="scalar"):
        DataLoader(np.float32(1.0))
    with pytest.raises(ValueError, match="no samples"):
        DataLoader(np.zeros((0, 2)))


# --- train_test_split ----------------------------------------------------------------------------------
def test_stratified_split_keeps_class_proportions():
    y = np.repeat([0, 1, 2], [60, 30, 10])
    X = np.arange(100)
    X_tr, X_te, y_tr, y_te = D.train_test_split(X, y, test_size=0.2, seed=0)
    assert np.bincount(y_te).tolist() == [12, 6, 2] and np.bincount(y_tr).tolist() == [48, 24, 8]
    assert sorted(np.concatenate([X_tr, X_te]).tolist()) == list(range(100))   # a partition
    np.testing.assert_array_equal(y[X_te], y_te)                                # rows stay paired
    again = D.train_test_split(X, y, test_size=0.2, seed=0)
    np.testing.assert_array_equal(again[1], X_te)


def test_split_rejects_bad_test_size():
    with pytest.raises(ValueError, match="test_size"):
        D.train_test_split(np.arange(10), np.arange(10), test_size=1.0)
    with pytest.raises(ValueError, match="empty"):
        D.train_test_split(np.arange(3), np.arange(3), test_size=0.1, stratify=False)


# --- StandardScaler vs scikit-learn --------------------------------------------------------------------
def test_standard_scaler_matches_sklearn(rng):
    X = rng.normal(loc=[5.0, -3.0, 100.0], scale=[0.1, 2.0, 30.0], size=(50, 3))
    X_new = rng.normal(size=(7, 3))
    ours, theirs = StandardScaler().fit(X), SkStandardScaler().fit(X)
    np.testing.assert_allclose(ours.mean_, theirs.mean_, rtol=1e-12)
    np.testing.assert_allclose(ours.scale_, theirs.scale_, rtol=1e-12)
    np.testing.assert_allclose(ours.var_, theirs.var_, rtol=1e-12)
    np.testing.assert_allclose(ours.transform(X_new), theirs.transform(X_new), rtol=1e-10, atol=1e-12)
    Z = ours.fit_transform(X)
    np.testing.assert_allclose(Z.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(Z.std(axis=0), 1, rtol=1e-12)
    np.testing.assert_allclose(ours.inverse_transform(Z), X, rtol=1e-12)


def test_standard_scaler_handles_constant_features_like_sklearn():
    X = np.column_stack([np.full(6, 3.0), np.arange(6.0)])
    ours, theirs = StandardScaler().fit(X), SkStandardScaler().fit(X)
    assert ours.scale_[0] == theirs.scale_[0] == 1.0
    np.testing.assert_allclose(ours.transform(X), theirs.transform(X), atol=1e-12)
    assert np.all(np.isfinite(ours.transform(X)))


def test_standard_scaler_options_and_dtypes():
    X = np.array([[1, 10], [3, 30]], dtype=np.int64)
    Z = StandardScaler().fit_transform(X)
    assert Z.dtype == np.float32
    np.testing.assert_allclose(Z, [[-1, -1], [1, 1]])
    X32 = np.array([[1.0, 2.0], [3.0, 6.0]], dtype=np.float32)
    assert StandardScaler().fit_transform(X32).dtype == np.float32
    np.testing.assert_allclose(StandardScaler(with_std=False).fit_transform(X32), [[-1, -2], [1, 2]])
    np.testing.assert_allclose(StandardScaler(with_mean=False).fit_transform(X32), [[1, 1], [3, 3]])


def test_standard_scaler_errors():
    with pytest.raises(RuntimeError, match="before fit"):
        StandardScaler().transform(np.zeros((2, 2)))
    s = StandardScaler().fit(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="fitted on 3 features, got 2"):
        s.transform(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="reshape"):
        StandardScaler().fit(np.arange(5.0))
    with pytest.raises(ValueError, match="NaN"):
        StandardScaler().fit(np.array([[1.0], [np.nan]]))
    with pytest.raises(TypeError):
        StandardScaler(with_mean=1)


def test_standard_scaler_does_not_modify_its_input():
    X = np.arange(6.0).reshape(3, 2)
    before = X.copy()
    StandardScaler().fit_transform(X)
    np.testing.assert_array_equal(X, before)


# --- logic tables and the lecture's regression ----------------------------------------------------------
@pytest.mark.parametrize("name, expected", [("and", [0, 0, 0, 1]), ("or", [0, 1, 1, 1]), ("xor", [0, 1, 1, 0]),
                                            ("nand", [1, 1, 1, 0]), ("nor", [1, 0, 0, 0]), ("XNOR", [1, 0, 0, 1])])
def test_logic_tables(name, expected):
    X, y = D.logic_table(name)
    assert X.shape == (4, 2) and X.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(X, [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(y, expected)


def test_logic_table_errors():
    with pytest.raises(ValueError, match="'xor'"):
        D.logic_table("implies")
    with pytest.raises(TypeError):
        D.logic_table(3)


def test_lecture_function_values():
    assert D.lecture_function(0.0) == pytest.approx(0.3)              # 0.2 + 0.1 cos 0
    x = 0.35
    expected = 0.2 + 0.4 * x ** 2 + 0.3 * x * np.sin(15 * x) + 0.1 * np.cos(50 * x)
    assert D.lecture_function(np.float64(x)) == pytest.approx(expected, rel=1e-14)
    assert D.lecture_function(np.zeros(3, dtype=np.float32)).dtype == np.float32
    assert D.LECTURE_X_RANGE == (0.0, 1.0)


def test_make_lecture_regression():
    x, y = D.make_lecture_regression(300, noise=0.0, seed=0)
    assert x.shape == y.shape == (300, 1) and x.dtype == y.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0 and np.all(np.diff(x[:, 0]) >= 0)
    np.testing.assert_allclose(y, D.lecture_function(x), atol=1e-6)
    _, y_noisy = D.make_lecture_regression(3000, noise=0.1, seed=0)
    x3, _ = D.make_lecture_regression(3000, seed=0)
    assert np.std(y_noisy - D.lecture_function(x3)) == pytest.approx(0.1, rel=0.1)
    np.testing.assert_array_equal(D.make_lecture_regression(20, 0.1, seed=5)[1], D.make_lecture_regression(20, 0.1, seed=5)[1])
    with pytest.raises(ValueError, match="noise"):
        D.make_lecture_regression(10, noise=-1)
    with pytest.raises(ValueError, match="x_range"):
        D.make_lecture_regression(10, x_range=(1, 0))


# --- 2-D classification sets ---------------------------------------------------------------------------
GENERATORS = [D.make_moons, D.make_circles, D.make_blobs, D.make_gaussian_quantiles, D.make_spirals]


@pytest.mark.parametrize("make", GENERATORS, ids=lambda f: f.__name__)
def test_generators_shapes_dtypes_balance_and_seeds(make):
    X, y = make(n_samples=201, seed=0)
    assert X.shape == (201, 2) and X.dtype == np.float32 and y.shape == (201,) and y.dtype == np.int64
    counts = np.bincount(y)
    assert counts.max() - counts.min() <= 1
    X2, y2 = make(n_samples=201, seed=0)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(X, make(n_samples=201, seed=1)[0])


def same_rows(a, b):
    """Equal as sets of rows (the generators shuffle; scikit-learn's unshuffled output does not)."""
    distance = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=2)
    return a.shape == b.shape and distance.min(axis=1).max() < 1e-6 and distance.min(axis=0).max() < 1e-6


def test_moons_and_circles_have_sklearns_geometry():
    for ours, theirs, kw in [(D.make_moons, skdata.make_moons, {}),
                             (D.make_circles, skdata.make_circles, {"factor": 0.5})]:
        X, y = ours(n_samples=100, noise=0.0, seed=0, **kw)
        Xs, ys = theirs(n_samples=100, noise=0.0, shuffle=False, **kw)
        for c in (0, 1):
            assert same_rows(X[y == c], Xs[ys == c]), ours.__name__


def test_gaussian_quantiles_are_nested_shells():
    X, y = D.make_gaussian_quantiles(600, n_classes=3, seed=0)
    r = np.linalg.norm(X, axis=1)
    assert r[y == 0].max() <= r[y == 1].min() and r[y == 1].max() <= r[y == 2].min()


def test_blobs_with_given_centers():
    X, y = D.make_blobs(400, centers=[[-5, 0], [5, 0]], cluster_std=0.5, seed=0)
    np.testing.assert_allclose(X[y == 0].mean(axis=0), [-5, 0], atol=0.15)
    np.testing.assert_allclose(X[y == 1].mean(axis=0), [5, 0], atol=0.15)
    with pytest.raises(ValueError, match="centers"):
        D.make_blobs(10, centers=np.zeros((2, 3)))


def test_spirals_have_k_arms_within_the_unit_disc():
    X, y = D.make_spirals(300, n_classes=3, noise=0.0, seed=0)
    assert set(y.tolist()) == {0, 1, 2}
    assert np.linalg.norm(X, axis=1).max() <= 1.0 + 1e-6


def test_generator_errors():
    with pytest.raises(ValueError, match="noise"):
        D.make_moons(100, noise=-0.1)
    with pytest.raises(ValueError, match="factor"):
        D.make_circles(100, factor=1.5)
    with pytest.raises(TypeError, match="n_samples"):
        D.make_spirals(10.5)
    with pytest.raises(ValueError, match="at least 2"):
        D.make_moons(1)


# --- polygons -----------------------------------------------------------------------------------------
def test_convex_polygon_set_covers_the_polygons_share_of_the_square():
    X, y = D.make_convex_polygon(20000, seed=0)
    assert X.min() >= -1 and X.max() <= 1 and X.dtype == np.float32 and y.dtype == np.int64
    r = 0.7
    pentagon_area = 2.5 * r ** 2 * np.sin(2 * np.pi / 5)
    assert y.mean() == pytest.approx(pentagon_area / 4, abs=0.01)


def test_nonconvex_set_is_the_union_of_its_parts():
    X, y = D.make_nonconvex(5000, seed=0)
    parts = np.column_stack([D.points_in_polygon(X, p) for p in D.LECTURE_NONCONVEX])
    np.testing.assert_array_equal(y, parts.any(axis=1))
    # Not convex: the midpoint of two inside points (one in each arm's far corner) is outside.
    inside = D.points_in_polygon(np.array([[-0.7, 0.6], [-0.7, -0.6], [-0.7, 0.0]]), D.LECTURE_NONCONVEX[0]) | \
        D.points_in_polygon(np.array([[-0.7, 0.6], [-0.7, -0.6], [-0.7, 0.0]]), D.LECTURE_NONCONVEX[1])
    assert inside.tolist() == [True, True, False]


def test_regular_polygon():
    v = D.regular_polygon(4, radius=1.0)
    np.testing.assert_allclose(v, [[0, 1], [-1, 0], [0, -1], [1, 0]], atol=1e-12)
    with pytest.raises(ValueError, match="at least 3"):
        D.regular_polygon(2)


# --- digits --------------------------------------------------------------------------------------------
def test_digits_images_shapes_dtypes_and_range():
    full = D.load_digits(split=False)
    assert isinstance(full, D.Dataset)
    X, y = full
    assert X.shape == (1797, 1, 8, 8) and X.dtype == np.float32 and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    assert set(y.tolist()) == set(range(10))
    raw = D.load_digits(split=False, scale=False, flatten=True)
    assert raw.X.shape == (1797, 64) and raw.X.max() == 16.0
    np.testing.assert_array_equal(raw.X / 16, X.reshape(1797, 64))


def test_digits_split_is_stratified_and_reproducible():
    d = D.load_digits(test_size=0.2, seed=0)
    X_train, y_train, X_test, y_test = d                    # unpacks like a tuple
    assert len(X_train) + len(X_test) == 1797 and X_train.shape[1:] == (1, 8, 8)
    full = np.bincount(D.load_digits(split=False).y)
    np.testing.assert_array_equal(np.bincount(y_train) + np.bincount(y_test), full)
    assert np.all(np.abs(np.bincount(y_test) - 0.2 * full) <= 0.5 + 1e-9)
    np.testing.assert_array_equal(D.load_digits(seed=0).y_test, y_test)
    assert not np.array_equal(D.load_digits(seed=1).y_test, y_test)
    flat = D.load_digits(flatten=True)
    assert flat.X_train.shape[1:] == (64,)


def test_digits_argument_errors():
    with pytest.raises(TypeError, match="split"):
        D.load_digits(split="yes")
    with pytest.raises(ValueError, match="test_size"):
        D.load_digits(test_size=1.5)
