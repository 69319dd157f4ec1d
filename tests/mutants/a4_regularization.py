"""Realistic mistakes in assignment 4 (dropout, weight decay, OBD, pruning), each caught only by its own test."""
from autograder.mutation import Mutant

_STABLE_SIGMOID = """        e = np.exp(-np.abs(z))
        prob = np.where(z >= 0, 1 / (1 + e), e / (1 + e))   # stable sigmoid"""

_SCORES_IN_THE_LOOP = """    for r in range(1, n_rounds + 1):
        n_round = n_total * r // n_rounds - n_total * (r - 1) // n_rounds
        if criterion == "obd":
            scores = saliency(params, hessian_diagonal_mlp(params, X, T))
        else:
            scores = {name: np.abs(params[name]) for name in ("W1", "W2")}"""

_SCORES_BEFORE_THE_LOOP = """    if criterion == "obd":
        scores = saliency(params, hessian_diagonal_mlp(params, X, T))
    else:
        scores = {name: np.abs(params[name]) for name in ("W1", "W2")}
    for r in range(1, n_rounds + 1):
        n_round = n_total * r // n_rounds - n_total * (r - 1) // n_rounds"""

_TRAIN_COPY_AND_STEP = """    params = {name: np.array(value, dtype=np.float64) for name, value in params.items()}
    keep = keep or {}
    for name, alive in keep.items():
        params[name] = params[name] * alive
    for _ in range(epochs):
        _, grads = mse_loss_and_gradients(params, X, T)
        for name in params:
            params[name] = params[name] - lr * grads[name]"""

_TRAIN_SHARE_AND_STEP = """    params = dict(params)
    keep = keep or {}
    for name, alive in keep.items():
        params[name] = params[name] * alive
    for _ in range(epochs):
        _, grads = mse_loss_and_gradients(params, X, T)
        for name in params:
            params[name] -= lr * grads[name]"""

MUTANTS = [
    # --- Part 1: dropout --------------------------------------------------------------------------------------
    Mutant("mask_keeps_with_probability_p", cell="dropout_mask",
           find="rng.random(shape) >= p", replace="rng.random(shape) < p",
           targets=("test_dropout_mask",), function="dropout_mask",
           why="p read as the probability of keeping: the mask keeps 30% instead of 70%"),
    Mutant("mask_ignores_seed", cell="dropout_mask",
           find="rng = np.random.default_rng(seed)", replace="rng = np.random.default_rng()",
           targets=("test_dropout_mask",), function="dropout_mask",
           why="the seed is never used: masks are right in distribution but not reproducible"),
    Mutant("mask_one_row_for_the_batch", cell="dropout_mask",
           find="(rng.random(shape) >= p)", replace="(np.broadcast_to(rng.random(shape[-1:]), shape) >= p)",
           targets=("test_dropout_mask",), function="dropout_mask",
           why="one mask row shared by every sample of the batch"),
    Mutant("forward_eval_scales_by_p", cell="dropout_forward",
           find="(x * (1 - p)).astype(x.dtype, copy=False)", replace="(x * p).astype(x.dtype, copy=False)",
           targets=("test_dropout_forward",), function="dropout_forward",
           why="scale_at_test evaluation multiplies by p instead of the keep probability 1 - p"),
    Mutant("forward_divides_by_zero_at_p1", cell="dropout_forward",
           find="    if p >= 1:\n        return np.zeros_like(x)                             # everything dropped; no division by 0\n",
           replace="",
           targets=("test_dropout_forward",), function="dropout_forward",
           why="no special case for p = 1: 0 / 0 gives NaN (with a RuntimeWarning)"),
    Mutant("forward_float64_mask", cell="dropout_forward",
           find="kept = np.where(np.asarray(mask) != 0, x, 0).astype(x.dtype, copy=False)",
           replace="kept = np.asarray(mask, dtype=np.float64) * x",
           targets=("test_dropout_forward",), function="dropout_forward",
           why="mask * x with a float64 mask: a float32 x comes back float64"),
    Mutant("forward_in_place", cell="dropout_forward",
           find="kept = np.where(np.asarray(mask) != 0, x, 0).astype(x.dtype, copy=False)",
           replace="x *= np.asarray(mask) != 0\n    kept = x",
           targets=("test_dropout_forward",), function="dropout_forward",
           why="multiplies the caller's x in place: the returned values are right, the argument is destroyed"),
    Mutant("backward_without_rescaling", cell="dropout_backward",
           find="dropout_forward(grad_output, mask, p, mode, training)",
           replace="dropout_forward(grad_output, mask, p, \"scale_at_test\", training)",
           targets=("test_dropout_backward",), function="dropout_backward",
           why="the gradient only passes the mask: the 1 / (1 - p) of inverted dropout is forgotten"),
    Mutant("backward_in_place", cell="dropout_backward",
           find="    return dropout_forward(grad_output, mask, p, mode, training)",
           replace="    grad_output *= dropout_forward(np.ones_like(grad_output), mask, p, mode, training)\n"
                   "    return grad_output",
           targets=("test_dropout_backward",), function="dropout_backward",
           why="scales grad_output in place: right values, but the caller's gradient is changed"),
    # --- Part 2: L2 regularization ----------------------------------------------------------------------------
    Mutant("decay_without_lr", cell="weight_decay_step",
           find="w * (1 - lr * lam)", replace="w * (1 - lam)",
           targets=("test_weight_decay_step",), function="weight_decay_step",
           why="the decay factor 1 - lambda instead of 1 - lr * lambda"),
    Mutant("decay_in_place", cell="weight_decay_step",
           find="    return (w * (1 - lr * lam) - lr * np.asarray(grad)).astype(w.dtype, copy=False)",
           replace="    w -= lr * (np.asarray(grad) + lam * w)\n    return w",
           targets=("test_weight_decay_step",), function="weight_decay_step",
           why="w -= ...: right values, but the caller's weights change too"),
    Mutant("decay_float64", cell="weight_decay_step",
           find="w = np.asarray(w)", replace="w = np.asarray(w, dtype=float)",
           targets=("test_weight_decay_step",), function="weight_decay_step",
           why="casts to float64: float32 weights come back float64"),
    Mutant("logistic_naive_sigmoid", cell="fit_logistic_l2", find=_STABLE_SIGMOID,
           replace="        prob = 1 / (1 + np.exp(-z))",
           targets=("test_fit_logistic_l2",), function="fit_logistic_l2",
           why="the textbook sigmoid: right values, but exp overflows with a RuntimeWarning for logits below -709"),
    Mutant("logistic_exp_ratio_sigmoid", cell="fit_logistic_l2", find=_STABLE_SIGMOID,
           replace="        prob = np.exp(z) / (1 + np.exp(z))",
           targets=("test_fit_logistic_l2",), function="fit_logistic_l2",
           why="e^z / (1 + e^z): inf / inf = NaN for logits above 709"),
    Mutant("logistic_summed_gradient", cell="fit_logistic_l2",
           find="X.T @ (prob - y) / len(y)", replace="X.T @ (prob - y)",
           targets=("test_fit_logistic_l2",), function="fit_logistic_l2",
           why="the gradient of the summed log-loss: N times too large, gradient descent overshoots or diverges"),
    Mutant("logistic_penalty_twice", cell="fit_logistic_l2",
           find="X.T @ (prob - y) / len(y)", replace="X.T @ (prob - y) / len(y) + lam * w",
           targets=("test_fit_logistic_l2",), function="fit_logistic_l2",
           why="adds lam * w to the gradient although weight_decay_step already decays w"),
    # --- Part 3: forward pass, gradients and second derivatives -----------------------------------------------
    Mutant("forward_without_output_bias", cell="mlp",
           find="    y = a1 @ params[\"W2\"].T + params[\"b2\"]", replace="    y = a1 @ params[\"W2\"].T",
           targets=("test_mlp",), function="mlp_forward",
           why="forgets b2 (it used to break every OBD test that ran this forward pass too)"),
    Mutant("gradient_divided_by_n_only", cell="mlp",
           find="g_y = 2 * diff / diff.size", replace="g_y = 2 * diff / len(X)",
           targets=("test_mlp",), function="mse_loss_and_gradients",
           why="dQ/dy with 1/N instead of 1/(N K): the mean over samples only, though the loss averages all entries"),
    Mutant("tanh_derivative_of_z", cell="mlp",
           find="(1 - a1 * a1)  # dQ/dz1", replace="(1 - z1 * z1)  # dQ/dz1",
           targets=("test_mlp",), function="mse_loss_and_gradients",
           why="tanh' written with the pre-activation z instead of tanh(z)"),
    Mutant("hessian_minus_second_derivative_term", cell="hessian_diagonal",
           find="d_z = d_z + f2 * g_a", replace="d_z = d_z - f2 * g_a",
           targets=("test_hessian_hidden_layer",), function="hessian_diagonal_mlp",
           why="the wrong sign on the f'' G term (the notebook stresses the plus)"),
    Mutant("hessian_lecture_convention", cell="hessian_diagonal",
           find="d_y = np.full_like(y, 2.0 / (n * k))", replace="d_y = np.full_like(y, 1.0 / (n * k))",
           targets=("test_hessian_output_layer", "test_hessian_hidden_layer"), function="hessian_diagonal_mlp",
           why="the second derivative of the loss without its factor 2"),
    Mutant("hessian_weights_not_squared", cell="hessian_diagonal",
           find="d_a = d_y @ (W2 * W2)", replace="d_a = d_y @ W2",
           targets=("test_hessian_hidden_layer",), function="hessian_diagonal_mlp",
           why="carries D down through W2 instead of W2 squared"),
    Mutant("hessian_ignores_method", cell="hessian_diagonal",
           find="    if method == \"full\":\n        d_z = d_z + f2 * g_a", replace="    d_z = d_z + f2 * g_a",
           targets=("test_hessian_hidden_layer",), function="hessian_diagonal_mlp",
           why="always keeps the f'' term: method='gauss_newton' gives the full diagonal"),
    # --- Part 4: saliency and choosing the weights to delete ---------------------------------------------------
    Mutant("saliency_ignores_half", cell="saliency",
           find="factor = 0.5 if half else 1.0", replace="factor = 0.5",
           targets=("test_saliency",), function="saliency",
           why="the half argument is ignored"),
    Mutant("feature_saliency_wrong_axis", cell="saliency",
           find="[\"W1\"].sum(axis=0)", replace="[\"W1\"].sum(axis=1)",
           targets=("test_saliency",), function="feature_saliency",
           why="sums over the inputs instead of over the hidden units: one number per hidden unit"),
    Mutant("prune_unstable_sort", cell="prune_mask",
           find="np.argsort(candidate_scores, kind=\"stable\")", replace="np.argsort(candidate_scores)",
           targets=("test_prune_mask",), function="prune_mask",
           why="np.argsort's default quicksort: equal scores in an arbitrary order (it escaped on 3 of 5 seeds)"),
    Mutant("prune_largest", cell="prune_mask",
           find="np.argsort(candidate_scores, kind=\"stable\")[:n]",
           replace="np.argsort(candidate_scores, kind=\"stable\")[::-1][:n]",
           targets=("test_prune_mask",), function="prune_mask",
           why="deletes the n most salient weights"),
    Mutant("prune_absolute_scores", cell="prune_mask",
           find="np.asarray(scores[name], dtype=np.float64).reshape(-1)[alive]",
           replace="np.abs(np.asarray(scores[name], dtype=np.float64)).reshape(-1)[alive]",
           targets=("test_prune_mask",), function="prune_mask",
           why="ranks |score|: a negative saliency is not deleted first"),
    Mutant("prune_modifies_keep", cell="prune_mask",
           find="keep = {name: np.array(keep[name], dtype=bool) for name in names}",
           replace="keep = {name: np.asarray(keep[name], dtype=bool) for name in names}",
           targets=("test_prune_mask",), function="prune_mask",
           why="np.asarray does not copy a bool array: the caller's keep is changed"),
    Mutant("prune_revives_deleted", cell="prune_mask",
           find="alive = np.flatnonzero(keep[name])", replace="alive = np.arange(keep[name].size)",
           targets=("test_prune_mask",), function="prune_mask",
           why="weights deleted before compete again, so fewer new weights are deleted"),
    # --- Part 5: training with frozen weights; prune and retrain -----------------------------------------------
    Mutant("train_deleted_weights_drift", cell="train_mlp",
           find="            if name in keep:\n                params[name] = params[name] * keep[name]"
                "        # deleted weights stay exactly 0\n",
           replace="",
           targets=("test_train_mlp",), function="train_mlp",
           why="zeroes the deleted weights once, then the gradient steps revive them"),
    Mutant("train_in_place", cell="train_mlp", find=_TRAIN_COPY_AND_STEP, replace=_TRAIN_SHARE_AND_STEP,
           targets=("test_train_mlp",), function="train_mlp",
           why="dict(params) copies the dict, not the arrays, and -= then changes the caller's parameters"),
    Mutant("train_biases_frozen", cell="train_mlp",
           find="        for name in params:", replace="        for name in (\"W1\", \"W2\"):",
           targets=("test_train_mlp",), function="train_mlp",
           why="updates the weights only, never the biases"),
    Mutant("loop_truncates_n_total", cell="prune_and_retrain",
           find="int(round(fraction * (params[\"W1\"].size + params[\"W2\"].size)))",
           replace="int(fraction * (params[\"W1\"].size + params[\"W2\"].size))",
           targets=("test_prune_and_retrain",), function="prune_and_retrain",
           why="int() instead of round(): 12.6 weights become 12"),
    Mutant("loop_equal_rounds", cell="prune_and_retrain",
           find="n_round = n_total * r // n_rounds - n_total * (r - 1) // n_rounds",
           replace="n_round = n_total // n_rounds",
           targets=("test_prune_and_retrain",), function="prune_and_retrain",
           why="n_total // R per round: the remainder is never deleted"),
    Mutant("loop_scores_once", cell="prune_and_retrain", find=_SCORES_IN_THE_LOOP, replace=_SCORES_BEFORE_THE_LOOP,
           targets=("test_prune_and_retrain",), function="prune_and_retrain",
           why="computes the scores once before the rounds instead of at the current parameters in each round"),
    Mutant("loop_criteria_swapped", cell="prune_and_retrain",
           find="        if criterion == \"obd\":", replace="        if criterion == \"magnitude\":",
           targets=("test_prune_and_retrain",), function="prune_and_retrain",
           why="OBD and magnitude swapped"),
    Mutant("loop_retrains_without_keep", cell="prune_and_retrain",
           find="train_mlp(params, X, T, lr, retrain_epochs, keep)", replace="train_mlp(params, X, T, lr, retrain_epochs)",
           targets=("test_prune_and_retrain",), function="prune_and_retrain",
           why="retrains without the mask: the deleted weights come back"),
    Mutant("loop_forgets_earlier_rounds", cell="prune_and_retrain",
           find="keep = prune_mask(scores, n_round, keep)", replace="keep = prune_mask(scores, n_round)",
           targets=("test_prune_and_retrain",), function="prune_and_retrain",
           why="each round starts from an all-alive mask: only the last round's deletions survive"),
]
