"""nnkit.train: the loop learns toy problems, follows the forward/backward/step contract exactly,
records its history, switches train/eval modes, and rejects what it cannot use."""
import numpy as np
import pytest

from nnkit import nn, optim
from nnkit.data import DataLoader, logic_table, make_lecture_regression, make_moons
from nnkit.train import Evaluation, History, accuracy, evaluate, fit, predict, train_step


def mlp(sizes, seed=0, act=nn.Tanh):
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers += [nn.Linear(a, b, seed=seed + i), act()]
    return nn.Sequential(*layers[:-1])


class ModeRecorder(nn.Module):
    """Identity that records ``self.training`` at every forward call."""

    def __init__(self):
        super().__init__()
        self.modes = []

    def forward(self, x):
        self.modes.append(self.training)
        return x

    def backward(self, grad_output):
        return grad_output


# --- it learns -----------------------------------------------------------------------------------------
def test_mlp_learns_xor_to_100_percent():
    X, y = logic_table("xor")
    net = mlp([2, 8, 2])
    h = fit(net, nn.CrossEntropyLoss(), optim.Adam(net.parameters(), lr=0.05), (X, y), epochs=150,
            batch_size=4, seed=0, progress=False)
    assert h.train_loss[-1] < 0.05 * h.train_loss[0]
    assert evaluate(net, X, y, nn.CrossEntropyLoss()).accuracy == 1.0
    np.testing.assert_array_equal(predict(net, X).argmax(axis=1), y)


def test_mlp_learns_moons_with_one_logit():
    X, y = make_moons(400, noise=0.1, seed=0)
    Xv, yv = make_moons(200, noise=0.1, seed=1)
    t, tv = y[:, None].astype(np.float32), yv[:, None].astype(np.float32)
    net = mlp([2, 16, 1], act=nn.ReLU)
    h = fit(net, nn.BCEWithLogitsLoss(), optim.SGD(net.parameters(), lr=0.5), (X, t), epochs=40,
            val=(Xv, tv), seed=0, progress=False)
    assert h.val_accuracy[-1] >= 0.97
    assert h.val_loss[-1] < 0.3 * h.val_loss[0]


def test_regression_on_the_lecture_function_reduces_the_loss():
    x, y = make_lecture_regression(200, seed=0)
    net = mlp([1, 32, 1])
    h = fit(net, nn.MSELoss(), optim.Adam(net.parameters(), lr=0.01), (x, y), epochs=60, seed=0, progress=False)
    assert h.train_loss[-1] < 0.3 * h.train_loss[0]
    assert h.train_accuracy == [] and h.val_accuracy == []      # regression: no accuracy


# --- the contract ---------------------------------------------------------------------------------------
def test_one_epoch_equals_the_hand_written_loop():
    X, y = make_moons(50, seed=3)
    a, b = mlp([2, 5, 2], seed=7), mlp([2, 5, 2], seed=7)
    fit(a, nn.CrossEntropyLoss(), optim.SGD(a.parameters(), lr=0.1, momentum=0.9),
        DataLoader(X, y, batch_size=8, shuffle=True, seed=11), epochs=2, progress=False)

    loss_fn, opt = nn.CrossEntropyLoss(), optim.SGD(b.parameters(), lr=0.1, momentum=0.9)
    loader = DataLoader(X, y, batch_size=8, shuffle=True, seed=11)
    for _ in range(2):
        for xb, yb in loader:
            opt.zero_grad()
            loss_fn(b(xb), yb)
            b.backward(loss_fn.backward())
            opt.step()
    for (name, p), q in zip(a.named_parameters(), b.parameters()):
        np.testing.assert_array_equal(p.data, q.data, err_msg=name)


def test_train_step_returns_the_loss_and_output_before_the_step():
    X, y = logic_table("xor")
    net = mlp([2, 3, 2])
    loss_fn = nn.CrossEntropyLoss()
    expected_out = net(X)
    expected_loss = float(loss_fn(expected_out, y))
    loss, out = train_step(net, loss_fn, optim.SGD(net.parameters(), lr=0.1), X, y)
    assert loss == expected_loss
    np.testing.assert_array_equal(out, expected_out)
    assert not np.array_equal(net(X), expected_out), "the step must change the weights"


def test_closure_optimizer_and_plain_optimizer_both_work():
    X, y = logic_table("xor")
    net = mlp([2, 8, 2])
    h = fit(net, nn.CrossEntropyLoss(), optim.EMANesterov(net.parameters(), lr=0.5, gamma=0.9), (X, y),
            epochs=100, batch_size=4, progress=False)
    assert h.train_loss[-1] < 0.5 * h.train_loss[0]

    class PlainSGD:                            # a student's optimizer: step() takes no closure
        def __init__(self, params, lr):
            self.params, self.lr = list(params), lr

        def zero_grad(self):
            for p in self.params:
                p.grad[...] = 0

        def step(self):
            for p in self.params:
                p.data -= self.lr * p.grad

    net = mlp([2, 8, 2])
    h = fit(net, nn.CrossEntropyLoss(), PlainSGD(net.parameters(), 0.5), (X, y), epochs=100, batch_size=4,
            progress=False)
    assert h.train_loss[-1] < 0.5 * h.train_loss[0]
    assert h.lr == []                          # no param_groups to read the learning rate from


def test_train_mode_for_training_eval_mode_for_validation():
    recorder = ModeRecorder()
    net = nn.Sequential(nn.Linear(2, 2, seed=0), recorder)
    X, y = logic_table("xor")
    fit(net, nn.CrossEntropyLoss(), optim.SGD(net.parameters(), lr=0.1), (X, y), epochs=2, batch_size=2,
        val=(X, y), progress=False)
    # per epoch: two training batches (train mode), then one validation batch (eval mode)
    assert recorder.modes == [True, True, False] * 2


def test_evaluate_and_predict_restore_the_previous_mode():
    recorder = ModeRecorder()
    net = nn.Sequential(nn.Linear(2, 2, seed=0), recorder)
    X, y = logic_table("xor")
    net.train()
    evaluate(net, X, y, nn.CrossEntropyLoss())
    predict(net, X)
    assert net.training and recorder.training
    assert recorder.modes == [False, False]
    net.eval()
    predict(net, X)
    assert not net.training


# --- History ----------------------------------------------------------------------------------------------
def test_history_lengths_and_access():
    X, y = make_moons(60, seed=0)
    net = mlp([2, 4, 2])
    opt = optim.SGD(net.parameters(), lr=0.2)
    h = fit(net, nn.CrossEntropyLoss(), opt, (X, y), epochs=5, val=(X, y), batch_size=16,
            scheduler=optim.StepLR(opt, step_size=2, gamma=0.5), progress=False)
    assert isinstance(h, History) and len(h) == h.epochs == 5
    for key in ("train_loss", "val_loss", "train_accuracy", "val_accuracy", "lr"):
        assert len(h[key]) == 5, key
    assert h.lr == [0.2, 0.2, 0.1, 0.1, 0.05]          # the scheduler stepped once per epoch
    assert all(0 <= a <= 1 for a in h.val_accuracy)
    assert set(h.as_dict()) == set(h.keys())
    assert "epochs=5" in repr(h)
    with pytest.raises(KeyError):
        h["accuracy"]


def test_without_validation_the_val_lists_stay_empty():
    X, y = logic_table("and")
    net = mlp([2, 2])
    h = fit(net, nn.CrossEntropyLoss(), optim.SGD(net.parameters(), lr=0.1), (X, y), epochs=3, progress=False)
    assert len(h.train_loss) == 3 and h.val_loss == [] and h.val_accuracy == [] and len(h.train_accuracy) == 3


def test_epoch_loss_is_the_per_sample_mean_for_mean_and_sum_reductions():
    X, y = make_moons(30, seed=1)                       # 30 samples in batches of 8: the last has 6
    for reduction in ("mean", "sum"):
        net = mlp([2, 3, 2])
        h = fit(net, nn.CrossEntropyLoss(reduction=reduction), optim.SGD(net.parameters(), lr=0.0),
                (X, y), epochs=1, batch_size=8, val=(X, y), progress=False)
        full = float(nn.CrossEntropyLoss()(net(X), y))  # lr=0: the weights did not move
        assert h.train_loss[0] == pytest.approx(full, rel=1e-5)
        assert h.val_loss[0] == pytest.approx(full, rel=1e-5)


def test_divergence_stops_training_with_a_warning():
    x, y = make_lecture_regression(50, seed=0)
    net = nn.Linear(1, 1, seed=0)
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning, match="training stopped"):
        h = fit(net, nn.MSELoss(), optim.SGD(net.parameters(), lr=1e6), (x * 100, y), epochs=50,
                batch_size=10, progress=False)
    assert len(h) < 50 and not np.isfinite(h.train_loss[-1])


def test_progress_bar_shows_the_loss(capsys):
    X, y = logic_table("or")
    net = mlp([2, 2])
    fit(net, nn.CrossEntropyLoss(), optim.SGD(net.parameters(), lr=0.1), (X, y), epochs=3, progress=True)
    err = capsys.readouterr().err
    assert "train_loss" in err and "3/3" in err
    fit(net, nn.CrossEntropyLoss(), optim.SGD(net.parameters(), lr=0.1), (X, y), epochs=3, progress=False)
    assert capsys.readouterr().err == ""


# --- accuracy, evaluate, predict -------------------------------------------------------------------------
def test_accuracy_for_class_scores_probabilities_and_logits():
    scores = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [0.0, 0.0, 1.0], [5.0, 0.0, 0.0]])
    assert accuracy(scores, [0, 1, 2, 1]) == 0.75
    assert accuracy(scores, np.eye(3)[[0, 1, 2, 1]]) == 0.75          # one-hot targets
    probs = np.array([0.9, 0.2, 0.6, 0.4])
    assert accuracy(probs, [1, 0, 0, 0]) == 0.75
    assert accuracy(probs[:, None], np.array([[1], [0], [1], [0]])) == 1.0
    logits = np.array([1.5, -0.3, 0.2, -2.0])
    assert accuracy(logits, [1, 0, 1, 0], threshold=0.0) == 1.0


def test_accuracy_errors():
    with pytest.raises(ValueError, match="4 predictions"):
        accuracy(np.zeros((4, 3)), [0, 1])
    with pytest.raises(ValueError, match="0/1 targets"):
        accuracy(np.zeros(3), [-1, 1, 1])
    with pytest.raises(ValueError, match=r"\(N, C\)"):
        accuracy(np.zeros((2, 3, 4)), [0, 1])
    with pytest.raises(TypeError, match="threshold"):
        accuracy(np.zeros(3), [0, 1, 1], threshold="0.5")


def test_evaluate_in_batches_equals_the_full_batch():
    X, y = make_moons(101, seed=2)
    net = mlp([2, 6, 2])
    result = evaluate(net, X, y, nn.CrossEntropyLoss(), batch_size=16)
    assert isinstance(result, Evaluation)
    assert result.loss == pytest.approx(float(nn.CrossEntropyLoss()(net(X), y)), rel=1e-5)
    assert result.accuracy == accuracy(net(X), y)
    labels_only = evaluate(net, X, y)                   # no loss: accuracy from integer labels
    assert labels_only.loss is None and labels_only.accuracy == result.accuracy
    x, t = make_lecture_regression(20, seed=0)
    reg = evaluate(nn.Linear(1, 1, seed=0), x, t, nn.MSELoss(), batch_size=7)
    assert reg.accuracy is None and reg.loss > 0


def test_predict_in_batches_equals_one_forward():
    X, _ = make_moons(37, seed=0)
    net = mlp([2, 4, 3])
    for batch_size in (1, 5, 100):
        np.testing.assert_allclose(predict(net, X, batch_size=batch_size), net(X), rtol=1e-5, atol=1e-6)


# --- errors -----------------------------------------------------------------------------------------------
def test_fit_rejects_what_it_cannot_use():
    X, y = logic_table("xor")
    net = mlp([2, 2])
    sgd = optim.SGD(net.parameters(), lr=0.1)
    ce = nn.CrossEntropyLoss()
    with pytest.raises(TypeError, match="model"):
        fit(lambda x: x, ce, sgd, (X, y), progress=False)
    with pytest.raises(TypeError, match="loss_fn"):
        fit(net, lambda out, t: 0.0, sgd, (X, y), progress=False)
    with pytest.raises(ValueError, match="reduction"):
        fit(net, nn.CrossEntropyLoss(reduction="none"), sgd, (X, y), progress=False)
    with pytest.raises(TypeError, match="optimizer"):
        fit(net, ce, object(), (X, y), progress=False)
    with pytest.raises(ValueError, match="epochs"):
        fit(net, ce, sgd, (X, y), epochs=0, progress=False)
    with pytest.raises(TypeError, match="DataLoader or a pair"):
        fit(net, ce, sgd, X, progress=False)
    with pytest.raises(TypeError, match="val"):
        fit(net, ce, sgd, (X, y), val=X, progress=False)
    with pytest.raises(ValueError, match="accuracy"):
        fit(net, ce, sgd, (X, y), accuracy="yes", progress=False)
    with pytest.raises(ValueError, match="same number of samples"):
        fit(net, ce, sgd, (X, y[:3]), progress=False)


def test_evaluate_needs_something_to_measure():
    x, t = make_lecture_regression(10, seed=0)
    with pytest.raises(ValueError, match="nothing to measure"):
        evaluate(nn.Linear(1, 1), x, t)
