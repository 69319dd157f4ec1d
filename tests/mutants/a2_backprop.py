"""Realistic mistakes in assignment 2 (backpropagation and the MLP), each caught only by its own test."""
from autograder.mutation import Mutant

_NUMERICAL_GRADIENT = """    x = np.array(x, dtype=np.float64)          # a copy: the caller's array is never touched
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        f_plus = f(x)
        x[i] = old - h
        f_minus = f(x)
        x[i] = old
        grad[i] = (f_plus - f_minus) / (2 * h)"""

_NUMERICAL_GRADIENT_IN_PLACE = """    x = np.asarray(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        x[i] += h
        f_plus = f(x)
        x[i] -= 2 * h
        f_minus = f(x)
        x[i] += h
        grad[i] = (f_plus - f_minus) / (2 * h)"""

MUTANTS = [
    # --- Part 1: Linear ----------------------------------------------------------------------------------------
    Mutant("linear_ignores_seed", cell="linear", find="rng = np.random.default_rng(seed)",
           replace="rng = np.random.default_rng()",
           targets=("test_linear_forward",), function="Linear",
           why="a fresh generator every time: the weights are random but not reproducible from the seed"),
    Mutant("linear_forward_no_bias", cell="linear", find="return x @ self.W.T + self.b",
           replace="return x @ self.W.T",
           targets=("test_linear_forward",), function="Linear",
           why="forgets the bias in the forward pass"),
    Mutant("linear_forward_untransposed", cell="linear", find="return x @ self.W.T + self.b",
           replace="return x @ self.W + self.b",
           targets=("test_linear_forward",), function="Linear",
           why="x W instead of x W^T: a shape error for every non-square layer (backward, which runs forward, "
               "states its dependency)"),
    Mutant("linear_grad_W_transposed", cell="linear", find="self.grad_W = grad_output.T @ self.x",
           replace="self.grad_W = self.x.T @ grad_output",
           targets=("test_linear_backward",), function="Linear",
           why="x^T g: the gradient of W^T, of shape (in, out)"),
    Mutant("linear_grad_b_mean", cell="linear", find="self.grad_b = grad_output.sum(axis=0)",
           replace="self.grad_b = grad_output.mean(axis=0)",
           targets=("test_linear_backward",), function="Linear",
           why="averages the bias gradient over the batch instead of summing it"),
    Mutant("linear_accumulates_gradients", cell="linear", find="self.grad_W = grad_output.T @ self.x",
           replace="self.grad_W += grad_output.T @ self.x",
           targets=("test_linear_backward",), function="Linear",
           why="adds to grad_W across calls, PyTorch-style, without the zero_grad the notebook does not have "
               "(it used to be reported first as a dtype problem)"),
    # --- Part 2: losses ------------------------------------------------------------------------------------------
    Mutant("mse_grad_without_mean", cell="mse", find="return 2 * (pred - target) / pred.size",
           replace="return 2 * (pred - target)",
           targets=("test_mse",), function="mse_loss_grad",
           why="forgets the 1/(NM) of the mean (it used to make the train_mlp test say only 'history must be finite')"),
    Mutant("mse_grad_divides_by_n", cell="mse", find="return 2 * (pred - target) / pred.size",
           replace="return 2 * (pred - target) / len(pred)",
           targets=("test_mse",), function="mse_loss_grad",
           why="divides by the batch size N only, not by N*M"),
    Mutant("logsumexp_naive", cell="cross_entropy",
           find="return (m + np.log(np.sum(np.exp(z - m), axis=1, keepdims=True)))[:, 0]",
           replace="return np.log(np.sum(np.exp(z), axis=1))",
           targets=("test_cross_entropy",), function="logsumexp",
           why="no max shift: exp(1000) overflows to inf"),
    Mutant("cross_entropy_column_index", cell="cross_entropy", find="logits[rows, labels]",
           replace="logits[:, labels]",
           targets=("test_cross_entropy",), function="cross_entropy",
           why="logits[:, labels] picks an (N, N) block instead of one logit per row"),
    Mutant("cross_entropy_grad_without_mean", cell="cross_entropy", find="    return p / n",
           replace="    return p",
           targets=("test_cross_entropy_grad",), function="cross_entropy_grad",
           why="forgets the 1/N of the mean"),
    Mutant("cross_entropy_grad_naive_softmax", cell="cross_entropy",
           find="p = np.exp(logits - logsumexp(logits)[:, None])",
           replace="p = np.exp(logits) / np.sum(np.exp(logits), axis=1, keepdims=True)",
           targets=("test_cross_entropy_grad",), function="cross_entropy_grad",
           why="the textbook softmax: inf / inf = nan for a logit of 1000"),
    Mutant("cross_entropy_grad_shifts_in_place", cell="cross_entropy",
           find="p = np.exp(logits - logsumexp(logits)[:, None])",
           replace="logits -= logsumexp(logits)[:, None]\n    p = np.exp(logits)",
           targets=("test_cross_entropy_grad",), function="cross_entropy_grad",
           why="stabilises in place: right gradient, but the caller's logits are changed"),
    # --- Part 3: two-layer backprop ------------------------------------------------------------------------------
    Mutant("two_layer_no_sigmoid_derivative", cell="two_layer", find="E_pre = E_hid * U * (1 - U)",
           replace="E_pre = E_hid",
           targets=("test_two_layer_backprop",), function="two_layer_backprop",
           why="forgets sigma'(t) = sigma(t)(1 - sigma(t)) on the hidden layer"),
    Mutant("two_layer_W2_transposed", cell="two_layer", find="E_hid = E_out @ W2 ",
           replace="E_hid = E_out @ W2.T ",
           targets=("test_two_layer_backprop",), function="two_layer_backprop",
           why="multiplies the output error by W2^T: a shape error unless M = H"),
    # --- Part 4: gradient check ----------------------------------------------------------------------------------
    Mutant("numerical_gradient_one_sided", cell="gradient_check", find="grad[i] = (f_plus - f_minus) / (2 * h)",
           replace="grad[i] = (f_plus - f(x)) / h",
           targets=("test_gradient_check",), function="numerical_gradient",
           why="a one-sided difference: error O(h) instead of O(h^2)"),
    Mutant("numerical_gradient_ignores_h", cell="gradient_check", find="grad[i] = (f_plus - f_minus) / (2 * h)",
           replace="grad[i] = (f_plus - f_minus) / (2 * 1e-5)",
           targets=("test_gradient_check",), function="numerical_gradient",
           why="divides by the default step whatever h it is given"),
    Mutant("numerical_gradient_integer_copy", cell="gradient_check",
           find="x = np.array(x, dtype=np.float64)", replace="x = x.copy()",
           targets=("test_gradient_check",), function="numerical_gradient",
           why="copies without converting: for an integer x, x + 1e-5 is x again and the gradient is 0"),
    Mutant("numerical_gradient_in_place_drift", cell="gradient_check", find=_NUMERICAL_GRADIENT,
           replace=_NUMERICAL_GRADIENT_IN_PLACE,
           targets=("test_gradient_check",), function="numerical_gradient",
           why="no copy, and x[i] += h ... x[i] -= 2h ... x[i] += h: the caller's x comes back changed in its "
               "last bits"),
    Mutant("relative_error_no_floor", cell="gradient_check",
           find="max(np.max(np.abs(a) + np.abs(n)), 1e-12)", replace="np.max(np.abs(a) + np.abs(n))",
           targets=("test_gradient_check",), function="relative_error",
           why="no floor in the denominator: two zero gradients give 0/0 = nan"),
    # --- Part 5: batches and training ----------------------------------------------------------------------------
    Mutant("batch_indices_drops_last", cell="batches", find="range(0, n, batch_size)",
           replace="range(0, n - batch_size + 1, batch_size)",
           targets=("test_batch_indices",), function="batch_indices",
           why="drops the smaller last batch"),
    Mutant("batch_indices_global_rng", cell="batches", find="np.random.default_rng(seed).permutation(n)",
           replace="np.random.permutation(n)",
           targets=("test_batch_indices",), function="batch_indices",
           why="shuffles with numpy's global generator: the seed is ignored"),
    Mutant("train_mlp_unweighted_history", cell="train_mlp", find="float(np.average(losses, weights=sizes))",
           replace="float(np.mean(losses))",
           targets=("test_train_mlp",), function="train_mlp",
           why="the plain mean of the batch losses: the smaller last batch counts as much as a full one (it escaped)"),
    Mutant("train_mlp_same_order_every_epoch", cell="train_mlp",
           find="batch_indices(len(X), batch_size, shuffle, rng)",
           replace="batch_indices(len(X), batch_size, shuffle, seed)",
           targets=("test_train_mlp",), function="train_mlp",
           why="passes the seed instead of the generator: the same order in every epoch"),
    Mutant("train_mlp_wrong_tanh_derivative", cell="train_mlp", find="(1 - H ** 2)",
           replace="(1 - H)",
           targets=("test_train_mlp",), function="train_mlp",
           why="tanh'(t) written as 1 - tanh(t)"),
    Mutant("train_mlp_gradient_ascent", cell="train_mlp", find="layer.W -= lr * layer.grad_W",
           replace="layer.W += lr * layer.grad_W",
           targets=("test_train_mlp",), function="train_mlp",
           why="the wrong sign in the update: training diverges"),
    # --- Parts 6 and 7 -------------------------------------------------------------------------------------------
    Mutant("fit_curve_test_points_unscaled", cell="fit_curve", find="mlp_predict(params, features(x_test))",
           replace="mlp_predict(params, np.hstack([x_test, np.full_like(x_test, 10.0)]))",
           targets=("test_fit_curve",), function="fit_curve",
           why="rescales the training inputs but not the test inputs"),
    Mutant("classify_points_two_classes", cell="classify", find="n_classes = int(y_train.max()) + 1",
           replace="n_classes = 2",
           targets=("test_classify_points",), function="classify_points",
           why="assumes two classes"),
]
