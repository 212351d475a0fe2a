"""Published reference numbers from Stanford cs231n assignment 2 (2019-2023 notebooks).

Every number below was copied from a notebook *printed output* (or, for the fixed
``expected_*`` / ``correct_*`` arrays, from the notebook source cell) in a public
repository; nothing here was recomputed.  Each group has a ``SOURCE_*`` string with
``owner/name:path@commit`` of the notebook it was read in and, where the same value
was found in an independent repository, a second one.  The comment above each group
gives the exact producing code (seed, order of random draws, arguments) so a test
can replay it.

Conventions
-----------
* All randomness is numpy's legacy global generator (``np.random.seed(231)`` then
  ``randn`` / ``randint`` / ``rand`` in the order written).  Weights of
  ``FullyConnectedNet`` come from the same global stream: for each layer in order,
  ``W = weight_scale * np.random.randn(d_in, d_out)``; biases, gammas and betas are
  constants and draw nothing.
* Dropout uses the newer cs231n convention: ``p`` / ``dropout_keep_ratio`` is the KEEP
  probability and ``mask = (np.random.rand(*x.shape) < p) / p``.  Values of the old
  drop-probability convention were found and deliberately left out (see
  ``EXCLUDED_*`` at the end).
* Arrays are stored as tuples (immutable); use ``np.asarray`` in tests.
* Printed numpy arrays carry numpy's default 8-decimal display, so compare them with
  ``atol=1e-8``.  Printed Python floats differ between repositories only in the last
  bit or two (e.g. 2.300479089768492 vs 2.3004790897684924), so compare scalars with
  ``rtol=1e-12`` rather than ``==``.
* ``*_PRINTED_ERRORS`` are relative errors printed by other people's implementations;
  they depend on implementation details and are information only.  Tests should
  assert the ``*_STATED_BOUND`` (the bound the notebook text states), not those.

Repositories (commits as stored in the public index that was searched)
---------------------------------------------------------------------
* ``AnirudhM1/CS231n-2022-Solutions@d2d76e34d86c3e3f3d113f90fd41a6493fa61ec5`` (2021+ format)
* ``Chants77/CS231n-2022Spring@50720dda859d51fad9c7ec638aee1c7f2fd15ad3`` (2021+ format)
* ``1219521375/CS231n2020@cbafdce997873d72f14ec75204439e50a190cd82`` (2020)
* ``0809zheng/CS231n-assignment2019@bfc81c1989e71b4887a9bcd581b273d2faefb90d`` (2019)
* ``0suh/cs231n_2021@9b19719dee0b4e039974a2b68af43c111efad67e`` (2021, only for contradictions)
"""

__all__ = [
    "REL_ERROR_DEFINITION",
    "SOURCE_LAYERS",
    "AFFINE_FORWARD",
    "RELU_FORWARD",
    "LAYER_GRADCHECK",
    "SOURCE_LOSSES",
    "LOSS_LAYERS",
    "SOURCE_TWO_LAYER_NET",
    "TWO_LAYER_NET",
    "SOURCE_OPTIM",
    "SGD_MOMENTUM",
    "RMSPROP",
    "ADAM",
    "SOURCE_FCN",
    "FCN_INITIAL_LOSS",
    "SOURCE_FCN_BATCHNORM",
    "FCN_BATCHNORM_INITIAL_LOSS",
    "FCN_LAYERNORM_INITIAL_LOSS",
    "SOURCE_FCN_DROPOUT",
    "FCN_DROPOUT_INITIAL_LOSS",
    "SOURCE_BATCHNORM",
    "BATCHNORM_FORWARD_TRAIN",
    "BATCHNORM_FORWARD_TEST",
    "BATCHNORM_BACKWARD",
    "BATCHNORM_BACKWARD_ALT",
    "SOURCE_LAYERNORM",
    "LAYERNORM_FORWARD",
    "LAYERNORM_BACKWARD",
    "SOURCE_DROPOUT",
    "DROPOUT_FORWARD",
    "DROPOUT_BACKWARD",
    "SOURCE_BN_EXPERIMENT",
    "BN_DEEP_EXPERIMENT",
    "EXCLUDED_OLD_DROPOUT_CONVENTION",
    "EXCLUDED_TRANSCRIPTION_TYPOS",
]

# rel_error as defined in every notebook's setup cell:
#   np.max(np.abs(x - y) / (np.maximum(1e-8, np.abs(x) + np.abs(y))))
REL_ERROR_DEFINITION = "max(|x - y| / max(1e-8, |x| + |y|))"

# ---------------------------------------------------------------------------
# 1. affine_forward / relu_forward (fixed linspace inputs, no randomness)
# ---------------------------------------------------------------------------
# In the 2019/2020 FullyConnectedNets.ipynb (moved to assignment1 from 2021 on).
# affine:  num_inputs, input_shape, output_dim = 2, (4, 5, 6), 3
#          input_size = num_inputs * np.prod(input_shape); weight_size = output_dim * np.prod(input_shape)
#          x = np.linspace(-0.1, 0.5, num=input_size).reshape(num_inputs, *input_shape)
#          w = np.linspace(-0.2, 0.3, num=weight_size).reshape(np.prod(input_shape), output_dim)
#          b = np.linspace(-0.3, 0.1, num=output_dim)
#          out, _ = affine_forward(x, w, b); print(rel_error(out, correct_out))
# relu:    x = np.linspace(-0.5, 0.5, num=12).reshape(3, 4); out, _ = relu_forward(x)
SOURCE_LAYERS = (
    "1219521375/CS231n2020:assignment2/FullyConnectedNets.ipynb@cbafdce997873d72f14ec75204439e50a190cd82; "
    "confirmed in 0809zheng/CS231n-assignment2019:assignment2/FullyConnectedNets.ipynb"
    "@bfc81c1989e71b4887a9bcd581b273d2faefb90d"
)
AFFINE_FORWARD = {
    "num_inputs": 2,
    "input_shape": (4, 5, 6),
    "output_dim": 3,
    "x_linspace": (-0.1, 0.5),
    "w_linspace": (-0.2, 0.3),
    "b_linspace": (-0.3, 0.1),
    "correct_out": (
        (1.49834967, 1.70660132, 1.91485297),
        (3.25553199, 3.5141327, 3.77273342),
    ),
    # 2020 repo / 2019 repo (correct_out is rounded to 8 decimals, hence ~1e-9).
    "printed_difference": (9.769847728806635e-10, 9.769849468192957e-10),
    "stated_bound": 1e-9,  # "The error should be around e-9 or less."
}
RELU_FORWARD = {
    "x_linspace": (-0.5, 0.5),
    "x_shape": (3, 4),
    "correct_out": (
        (0.0, 0.0, 0.0, 0.0),
        (0.0, 0.0, 0.04545455, 0.13636364),
        (0.22727273, 0.31818182, 0.40909091, 0.5),
    ),
    "printed_difference": 4.999999798022158e-08,  # identical in both repos
    "stated_bound": 5e-8,  # "The error should be on the order of e-8"
}

# Gradient checks of the layers (seed 231 each; eval_numerical_gradient_array, default h=1e-5):
#   affine_backward: np.random.seed(231); x = randn(10, 2, 3); w = randn(6, 5); b = randn(5); dout = randn(10, 5)
#   relu_backward:   np.random.seed(231); x = randn(10, 10); dout = randn(*x.shape)
#   affine_relu:     np.random.seed(231); x = randn(2, 3, 4); w = randn(12, 10); b = randn(10); dout = randn(2, 10)
LAYER_GRADCHECK = {
    "affine_backward": {
        # 2020 and 2019 repos print the same three numbers.
        "printed_errors": {"dx": 5.399100368651805e-11, "dw": 9.904211865398145e-11, "db": 2.4122867568119087e-11},
        "stated_bound": 1e-10,  # "The error should be around e-10 or less"
    },
    "relu_backward": {
        "printed_errors": {"dx": 3.2756349136310288e-12},  # identical in both repos
        "stated_bound": 1e-12,  # "The error should be on the order of e-12"
    },
    "affine_relu": {
        # dx differs between repos (6.750562121603446e-11 in 2020, 2.299579177309368e-11 in 2019).
        "printed_errors": {"dx": 6.750562121603446e-11, "dw": 8.162015570444288e-11, "db": 7.826724021458994e-12},
        "stated_bound": 1e-10,  # "Relative error should be around e-10 or less"
    },
}

# ---------------------------------------------------------------------------
# 3. svm_loss / softmax_loss
# ---------------------------------------------------------------------------
#   np.random.seed(231)
#   num_classes, num_inputs = 10, 50
#   x = 0.001 * np.random.randn(num_inputs, num_classes)
#   y = np.random.randint(num_classes, size=num_inputs)
#   dx_num = eval_numerical_gradient(lambda x: svm_loss(x, y)[0], x, verbose=False)   # then softmax_loss
SOURCE_LOSSES = SOURCE_LAYERS + " (same values in a 2017/18 markdown export found by the index)"
LOSS_LAYERS = {
    "svm_loss": 8.999602749096233,
    "svm_dx_printed_error": 1.4021566006651672e-09,
    "svm_stated": "Loss should be around 9 and dx error should be around the order of e-9",
    "softmax_loss": 2.302545844500738,
    "softmax_dx_printed_error": 9.384673161989355e-09,
    "softmax_stated": "Loss should be close to 2.3 and dx error should be around e-8",
}

# TwoLayerNet check (2019/2020 FullyConnectedNets.ipynb; asserted in the cell, not printed).
#   np.random.seed(231); N, D, H, C = 3, 5, 50, 7; X = randn(N, D); y = randint(C, size=N)
#   model = TwoLayerNet(input_dim=D, hidden_dim=H, num_classes=C, weight_scale=1e-3)
#   then params are overwritten:
#   W1 = linspace(-0.7, 0.3, D*H).reshape(D, H); b1 = linspace(-0.1, 0.9, H)
#   W2 = linspace(-0.3, 0.4, H*C).reshape(H, C); b2 = linspace(-0.9, 0.1, C)
#   X = np.linspace(-5.5, 4.5, num=N*D).reshape(D, N).T; scores = model.loss(X)
#   y = np.asarray([0, 5, 1]); loss (reg 0) and loss with model.reg = 1.0
SOURCE_TWO_LAYER_NET = SOURCE_LAYERS
TWO_LAYER_NET = {
    "correct_scores": (
        (11.53165108, 12.2917344, 13.05181771, 13.81190102, 14.57198434, 15.33206765, 16.09215096),
        (12.05769098, 12.74614105, 13.43459113, 14.1230412, 14.81149128, 15.49994135, 16.18839143),
        (12.58373087, 13.20054771, 13.81736455, 14.43418138, 15.05099822, 15.66781506, 16.2846319),
    ),
    "scores_abs_sum_bound": 1e-6,  # assert np.abs(scores - correct_scores).sum() < 1e-6
    "correct_loss_reg0": 3.4702243556,
    "correct_loss_reg1": 26.5948426952,
    "loss_abs_bound": 1e-10,  # assert abs(loss - correct_loss) < 1e-10
}

# ---------------------------------------------------------------------------
# 2. Update rules (fixed linspace inputs, no randomness)
# ---------------------------------------------------------------------------
#   N, D = 4, 5
#   w  = np.linspace(-0.4, 0.6, num=N*D).reshape(N, D)
#   dw = np.linspace(-0.6, 0.4, num=N*D).reshape(N, D)
# sgd_momentum: v = np.linspace(0.6, 0.9, num=N*D).reshape(N, D)
#   config = {'learning_rate': 1e-3, 'velocity': v}  (default momentum 0.9)
# rmsprop: cache = np.linspace(0.6, 0.9, num=N*D).reshape(N, D)
#   config = {'learning_rate': 1e-2, 'cache': cache}  (defaults decay_rate 0.99, epsilon 1e-8)
# adam: m = np.linspace(0.6, 0.9, num=N*D).reshape(N, D); v = np.linspace(0.7, 0.5, num=N*D).reshape(N, D)
#   config = {'learning_rate': 1e-2, 'm': m, 'v': v, 't': 5}  (defaults beta1 0.9, beta2 0.999, eps 1e-8)
#   The expected arrays correspond to cs231n's adam incrementing t before the bias
#   correction (t becomes 6), which is what config['t'] = 5 on input means there.
# The arrays are source constants of the notebook cells; the sgd_momentum cell and its
# printed errors were read in the 2022 repo, the rmsprop/adam cells in a 2017/18 markdown
# export and nine other indexed files with byte-identical arrays (their repository could
# not be resolved with the index tools; the AnirudhM1 cell lies behind ~250 kB of
# embedded plot images and was not reached).
SOURCE_OPTIM = (
    "AnirudhM1/CS231n-2022-Solutions:assignment2/FullyConnectedNets.ipynb"
    "@d2d76e34d86c3e3f3d113f90fd41a6493fa61ec5 (sgd_momentum cell); rmsprop/adam cells: same notebook "
    "family, read in indexed markdown/py copies (repository unresolved); also transcribed, with typos, "
    "in ../shared/seeds/001_15691f710f150164.txt (UCLA ECE C147 HW4)"
)
_LINSPACE_W = (-0.4, 0.6)
_LINSPACE_DW = (-0.6, 0.4)
SGD_MOMENTUM = {
    "N_D": (4, 5),
    "w_linspace": _LINSPACE_W,
    "dw_linspace": _LINSPACE_DW,
    "velocity_linspace": (0.6, 0.9),
    "config": {"learning_rate": 1e-3},
    "expected_next_w": (
        (0.1406, 0.20738947, 0.27417895, 0.34096842, 0.40775789),
        (0.47454737, 0.54133684, 0.60812632, 0.67491579, 0.74170526),
        (0.80849474, 0.87528421, 0.94207368, 1.00886316, 1.07565263),
        (1.14244211, 1.20923158, 1.27602105, 1.34281053, 1.4096),
    ),
    "expected_velocity": (
        (0.5406, 0.55475789, 0.56891579, 0.58307368, 0.59723158),
        (0.61138947, 0.62554737, 0.63970526, 0.65386316, 0.66802105),
        (0.68217895, 0.69633684, 0.71049474, 0.72465263, 0.73881053),
        (0.75296842, 0.76712632, 0.78128421, 0.79544211, 0.8096),
    ),
    # Identical in the 2022 repo and the 2017/18 export.
    "printed_errors": {"next_w": 8.882347033505819e-09, "velocity": 4.269287743278663e-09},
    "stated_bound": 1e-8,  # "Should see relative errors around e-8 or less"
}
RMSPROP = {
    "N_D": (4, 5),
    "w_linspace": _LINSPACE_W,
    "dw_linspace": _LINSPACE_DW,
    "cache_linspace": (0.6, 0.9),
    "config": {"learning_rate": 1e-2},
    "expected_next_w": (
        (-0.39223849, -0.34037513, -0.28849239, -0.23659121, -0.18467247),
        (-0.132737, -0.08078555, -0.02881884, 0.02316247, 0.07515774),
        (0.12716641, 0.17918792, 0.23122175, 0.28326742, 0.33532447),
        (0.38739248, 0.43947102, 0.49155973, 0.54365823, 0.59576619),
    ),
    "expected_cache": (
        (0.5976, 0.6126277, 0.6277108, 0.64284931, 0.65804321),
        (0.67329252, 0.68859723, 0.70395734, 0.71937285, 0.73484377),
        (0.75037008, 0.7659518, 0.78158892, 0.79728144, 0.81302936),
        (0.82883269, 0.84469141, 0.86060554, 0.87657507, 0.8926),
    ),
    "printed_errors": {"next_w": 9.524687511038133e-08, "cache": 2.6477955807156126e-09},
    "stated_bound": 1e-7,  # "you should see errors less than 1e-7"
}
ADAM = {
    "N_D": (4, 5),
    "w_linspace": _LINSPACE_W,
    "dw_linspace": _LINSPACE_DW,
    "m_linspace": (0.6, 0.9),
    "v_linspace": (0.7, 0.5),
    "config": {"learning_rate": 1e-2, "t": 5},
    "expected_next_w": (
        (-0.40094747, -0.34836187, -0.29577703, -0.24319299, -0.19060977),
        (-0.1380274, -0.08544591, -0.03286534, 0.01971428, 0.0722929),
        (0.1248705, 0.17744702, 0.23002243, 0.28259667, 0.33516969),
        (0.38774145, 0.44031188, 0.49288093, 0.54544852, 0.59801459),
    ),
    "expected_v": (
        (0.69966, 0.68908382, 0.67851319, 0.66794809, 0.65738853),
        (0.64683452, 0.63628604, 0.6257431, 0.61520571, 0.60467385),
        (0.59414753, 0.58362676, 0.57311152, 0.56260183, 0.55209767),
        (0.54159906, 0.53110598, 0.52061845, 0.51013645, 0.49966),
    ),
    "expected_m": (
        (0.48, 0.49947368, 0.51894737, 0.53842105, 0.55789474),
        (0.57736842, 0.59684211, 0.61631579, 0.63578947, 0.65526316),
        (0.67473684, 0.69421053, 0.71368421, 0.73315789, 0.75263158),
        (0.77210526, 0.79157895, 0.81105263, 0.83052632, 0.85),
    ),
    "printed_errors": {"next_w": 1.1395691798535431e-07, "v": 4.208314038113071e-09, "m": 4.214963193114416e-09},
    "stated_bound": 1e-7,  # "you should see errors around e-7 or less"
}

# ---------------------------------------------------------------------------
# 4. FullyConnectedNet initial loss (N, D, H1, H2, C = 2, 15, 20, 30, 10)
# ---------------------------------------------------------------------------
#   np.random.seed(231)
#   X = np.random.randn(N, D)
#   y = np.random.randint(C, size=(N,))
#   for reg in [0, 3.14]:
#       model = FullyConnectedNet([H1, H2], input_dim=D, num_classes=C,
#                                 reg=reg, weight_scale=5e-2, dtype=np.float64)
#       loss, grads = model.loss(X, y)
# No re-seeding inside the loop: the reg=3.14 model's weights are the NEXT draws after the
# reg=0 model's weights (the gradient check in between draws nothing), so reproducing
# 7.052... requires constructing the reg=0 model first.  reg enters as 0.5 * reg * sum(W**2).
SOURCE_FCN = (
    "AnirudhM1/CS231n-2022-Solutions:assignment2/FullyConnectedNets.ipynb@d2d76e34d86c3e3f3d113f90fd41a6493fa61ec5; "
    "confirmed in Chants77/CS231n-2022Spring:assignment2/FullyConnectedNets.ipynb"
    "@50720dda859d51fad9c7ec638aee1c7f2fd15ad3 (and in a 2017/18 markdown export)"
)
FCN_INITIAL_LOSS = {
    # Printed as 2.300479089768492 in both 2022 repos and as 2.3004790897684924 in the
    # 2017/18 export and in 0suh/cs231n_2021 Dropout.ipynb (keep=1 row): last-bit difference.
    0: 2.3004790897684924,
    3.14: 7.052114776533016,  # identical in all three
    # 2021+ notebook text: "you should expect to see errors around 1e-7 or less" and in the cell:
    # "Most of the errors should be on the order of e-7 or smaller. NOTE: It is fine however to see
    # an error for W2 on the order of e-5 for the check when reg = 0.0" (printed W2 error 2.21e-05).
    "stated_bound": 1e-7,
    "stated_bound_W2_reg0": 1e-5,
    "gradcheck_h": 1e-5,
}

# Same cell as above with normalization='batchnorm' (BatchNormalization.ipynb, 2019+):
#   np.random.seed(231); X = randn(N, D); y = randint(C, size=(N,))
#   for reg in [0, 3.14]:
#       model = FullyConnectedNet([H1, H2], input_dim=D, num_classes=C, reg=reg,
#                                 weight_scale=5e-2, dtype=np.float64, normalization='batchnorm')
# gamma = 1, beta = 0 initially, so the weights (and their draw order) are the same as above.
SOURCE_FCN_BATCHNORM = (
    "AnirudhM1/CS231n-2022-Solutions:assignment2/BatchNormalization.ipynb@d2d76e34d86c3e3f3d113f90fd41a6493fa61ec5; "
    "confirmed in Chants77/CS231n-2022Spring:assignment2/BatchNormalization.ipynb"
    "@50720dda859d51fad9c7ec638aee1c7f2fd15ad3 (reg 0 also in a 2019 markdown export)"
)
FCN_BATCHNORM_INITIAL_LOSS = {
    0: 2.2611955101340957,
    3.14: 6.996533220108303,
    # "You should expect losses between 1e-4~1e-10 for W, losses between 1e-08~1e-10 for b,
    #  and losses between 1e-08~1e-09 for beta and gammas." (printed W1 error at reg 0: 1.10e-04)
    "stated_bound_W": 1e-4,
    "stated_bound_b": 1e-8,
    "stated_bound_gamma_beta": 1e-8,
}
# NOT PUBLISHED: no 2019-2023 notebook runs this gradient check with normalization='layernorm'
# (layer norm is only exercised through layernorm_forward/backward and the batch-size plot).
FCN_LAYERNORM_INITIAL_LOSS = None

# Dropout.ipynb (2021+; the 2019/2020 notebook is identical but the argument is named dropout=):
#   np.random.seed(231)
#   X = np.random.randn(N, D)
#   y = np.random.randint(C, size=(N,))
#   for dropout_keep_ratio in [1, 0.75, 0.5]:
#       model = FullyConnectedNet([H1, H2], input_dim=D, num_classes=C, weight_scale=5e-2,
#                                 dtype=np.float64, dropout_keep_ratio=dropout_keep_ratio, seed=123)
#       loss, grads = model.loss(X, y)      # then the gradient check (h=1e-5)
# seed=123 is put into dropout_param and dropout_forward calls np.random.seed(123) on EVERY call,
# i.e. before each layer's mask (layer 1 mask: first 2*20 draws of seed 123, layer 2 mask: first
# 2*30 draws of seed 123).  This also resets the global generator, so:
#   keep=1    -> no dropout layer; weights drawn right after X, y;
#   keep=0.75 -> weights drawn right after the keep=1 model's weights;
#   keep=0.5  -> weights drawn from the state left by the keep=0.75 model's last loss call,
#                i.e. np.random.seed(123) followed by 2*30 np.random.rand draws.
SOURCE_FCN_DROPOUT = (
    "AnirudhM1/CS231n-2022-Solutions:assignment2/Dropout.ipynb@d2d76e34d86c3e3f3d113f90fd41a6493fa61ec5; "
    "confirmed in Chants77/CS231n-2022Spring:assignment2/Dropout.ipynb@50720dda859d51fad9c7ec638aee1c7f2fd15ad3 "
    "(and a 2019 markdown export with dropout=1/0.75/0.5)"
)
FCN_DROPOUT_INITIAL_LOSS = {
    1: 2.3004790897684924,  # printed 2.300479089768492 in both 2022 repos
    0.75: 2.302371489704412,  # identical in all three
    0.5: 2.3042759220785896,  # printed 2.30427592207859 in both 2022 repos
    "seed": 123,
    # "Relative errors should be around e-6 or less. Note that it's fine if for
    #  dropout_keep_ratio=1 you have W2 error be on the order of e-5."
    "stated_bound": 1e-6,
    "stated_bound_W2_keep1": 1e-5,
}

# ---------------------------------------------------------------------------
# 5. BatchNormalization.ipynb
# ---------------------------------------------------------------------------
# Training-time forward:
#   np.random.seed(231); N, D1, D2, D3 = 200, 50, 60, 3
#   X = randn(N, D1); W1 = randn(D1, D2); W2 = randn(D2, D3)
#   a = np.maximum(0, X.dot(W1)).dot(W2)                       # stats printed with axis=0
#   a_norm, _ = batchnorm_forward(a, np.ones(D3), np.zeros(D3), {'mode': 'train'})
#   a_norm, _ = batchnorm_forward(a, np.asarray([1.0, 2.0, 3.0]), np.asarray([11.0, 12.0, 13.0]), {'mode': 'train'})
# The printed normalized means are ~1e-17 noise (e.g. 2.22e-17 vs 5.33e-17 between repos): assert |mean| < 1e-12.
SOURCE_BATCHNORM = (
    "AnirudhM1/CS231n-2022-Solutions:assignment2/BatchNormalization.ipynb@d2d76e34d86c3e3f3d113f90fd41a6493fa61ec5; "
    "confirmed in Chants77/CS231n-2022Spring:assignment2/BatchNormalization.ipynb"
    "@50720dda859d51fad9c7ec638aee1c7f2fd15ad3"
)
BATCHNORM_FORWARD_TRAIN = {
    "N_D1_D2_D3": (200, 50, 60, 3),
    "before_means": (-2.3814598, -13.18038246, 1.91780462),
    "before_stds": (27.18502186, 34.21455511, 37.68611762),
    "after_stds_gamma1_beta0": (0.99999999, 1.0, 1.0),
    "gamma": (1.0, 2.0, 3.0),
    "beta": (11.0, 12.0, 13.0),
    "after_means_gamma_beta": (11.0, 12.0, 13.0),
    "after_stds_gamma_beta": (0.99999999, 1.99999999, 2.99999999),
}
# Test-time forward after 50 warm-up passes (default momentum 0.9, eps 1e-5, running var):
#   np.random.seed(231); N, D1, D2, D3 = 200, 50, 60, 3
#   W1 = randn(D1, D2); W2 = randn(D2, D3)                      # note: no X before W1 here
#   bn_param = {'mode': 'train'}; gamma = np.ones(D3); beta = np.zeros(D3)
#   for t in range(50):
#       X = randn(N, D1); a = np.maximum(0, X.dot(W1)).dot(W2); batchnorm_forward(a, gamma, beta, bn_param)
#   bn_param['mode'] = 'test'; X = randn(N, D1); a = np.maximum(0, X.dot(W1)).dot(W2)
#   a_norm, _ = batchnorm_forward(a, gamma, beta, bn_param)     # stats printed with axis=0
BATCHNORM_FORWARD_TEST = {
    "N_D1_D2_D3": (200, 50, 60, 3),
    "warmup_passes": 50,
    "means": (-0.03927354, -0.04349152, -0.10452688),
    "stds": (1.01531428, 1.01238373, 0.97819988),
}
# Gradient check:
#   np.random.seed(231); N, D = 4, 5
#   x = 5 * randn(N, D) + 12; gamma = randn(D); beta = randn(D); dout = randn(N, D)
#   bn_param = {'mode': 'train'}; eval_numerical_gradient_array on x, gamma.copy(), beta.copy()
BATCHNORM_BACKWARD = {
    # dx printed 1.7029261167605239e-09 (AnirudhM1) / 1.7029258328157158e-09 (Chants77);
    # dgamma, dbeta identical in both.
    "printed_errors": {"dx": 1.7029261167605239e-09, "dgamma": 7.420414216247087e-13, "dbeta": 2.8795057655839487e-12},
    "stated_bound": 1e-8,  # "You should expect to see relative errors between 1e-13 and 1e-8."
}
# Closed-form vs graph backward:
#   np.random.seed(231); N, D = 100, 500
#   x = 5 * randn(N, D) + 12; gamma = randn(D); beta = randn(D); dout = randn(N, D)
#   out, cache = batchnorm_forward(x, gamma, beta, {'mode': 'train'})
#   rel_error(batchnorm_backward(dout, cache), batchnorm_backward_alt(dout, cache)) per output
BATCHNORM_BACKWARD_ALT = {
    # dx difference 8.517976669436811e-13 (AnirudhM1) / 1.1088969819160976e-12 (Chants77)
    "printed_dx_difference": (8.517976669436811e-13, 1.1088969819160976e-12),
    "printed_dgamma_difference": 0.0,  # both repos
    "printed_dbeta_difference": 0.0,  # both repos
}

# Layer normalization forward (same notebook, 2019+):
#   np.random.seed(231); N, D1, D2, D3 = 4, 50, 60, 3
#   X = randn(N, D1); W1 = randn(D1, D2); W2 = randn(D2, D3); a = np.maximum(0, X.dot(W1)).dot(W2)
#   stats printed with axis=1 (per data point); eps 1e-5
#   layernorm_forward(a, np.ones(D3), np.zeros(D3), {'mode': 'train'})
#   layernorm_forward(a, np.asarray([3.0, 3.0, 3.0]), np.asarray([5.0, 5.0, 5.0]), {'mode': 'train'})
SOURCE_LAYERNORM = (
    "AnirudhM1/CS231n-2022-Solutions:assignment2/BatchNormalization.ipynb@d2d76e34d86c3e3f3d113f90fd41a6493fa61ec5; "
    "identical in a 2019 markdown export of the same notebook (a blog post linking github.com/ctttt1119/cs231n; "
    "its repository could not be resolved in the index)"
)
LAYERNORM_FORWARD = {
    "N_D1_D2_D3": (4, 50, 60, 3),
    "before_means": (-59.06673243, -47.60782686, -43.31137368, -26.40991744),
    "before_stds": (10.07429373, 28.39478981, 35.28360729, 4.01831507),
    "after_stds_gamma1_beta0": (0.99999995, 0.99999999, 1.0, 0.99999969),
    "gamma": (3.0, 3.0, 3.0),
    "beta": (5.0, 5.0, 5.0),
    "after_means_gamma_beta": (5.0, 5.0, 5.0, 5.0),
    "after_stds_gamma_beta": (2.99999985, 2.99999998, 2.99999999, 2.99999907),
}
# Layer norm gradient check:
#   np.random.seed(231); N, D = 4, 5
#   x = 5 * randn(N, D) + 12; gamma = randn(D); beta = randn(D); dout = randn(N, D); ln_param = {}
LAYERNORM_BACKWARD = {
    # dx 1.4336154662306233e-09 (AnirudhM1) / 1.433616168873336e-09 (2019 export); dgamma, dbeta identical.
    "printed_errors": {"dx": 1.4336154662306233e-09, "dgamma": 4.519489546032799e-12, "dbeta": 2.276445013433725e-12},
    "stated_bound": 1e-8,  # "You should expect to see relative errors between 1e-12 and 1e-8."
}

# ---------------------------------------------------------------------------
# 6. Dropout.ipynb (keep-probability convention)
# ---------------------------------------------------------------------------
#   np.random.seed(231)
#   x = np.random.randn(500, 500) + 10
#   for p in [0.25, 0.4, 0.7]:
#       out, _ = dropout_forward(x, {'mode': 'train', 'p': p})      # NO 'seed' key: one rand(500, 500)
#       out_test, _ = dropout_forward(x, {'mode': 'test', 'p': p})  # draws nothing
#       print(x.mean(), out.mean(), out_test.mean(), (out == 0).mean(), (out_test == 0).mean())
# The masks of p=0.25, 0.4, 0.7 are consecutive np.random.rand(500, 500) draws after x.
SOURCE_DROPOUT = (
    "AnirudhM1/CS231n-2022-Solutions:assignment2/Dropout.ipynb@d2d76e34d86c3e3f3d113f90fd41a6493fa61ec5; "
    "confirmed in Chants77/CS231n-2022Spring:assignment2/Dropout.ipynb@50720dda859d51fad9c7ec638aee1c7f2fd15ad3 "
    "(and a 2019 markdown export)"
)
_INPUT_MEAN = 10.000207878477502
DROPOUT_FORWARD = {
    0.25: {
        "input_mean": _INPUT_MEAN,
        "train_mean": 10.014059116977283,
        "test_mean": _INPUT_MEAN,
        "train_frac_zero": 0.749784,
        "test_frac_zero": 0.0,
    },
    0.4: {
        "input_mean": _INPUT_MEAN,
        "train_mean": 9.977917658761159,
        "test_mean": _INPUT_MEAN,
        "train_frac_zero": 0.600796,
        "test_frac_zero": 0.0,
    },
    0.7: {
        "input_mean": _INPUT_MEAN,
        "train_mean": 9.987811912159426,
        "test_mean": _INPUT_MEAN,
        "train_frac_zero": 0.30074,
        "test_frac_zero": 0.0,
    },
}
# Gradient check:
#   np.random.seed(231); x = np.random.randn(10, 10) + 10; dout = np.random.randn(*x.shape)
#   dropout_param = {'mode': 'train', 'p': 0.2, 'seed': 123}
#   out, cache = dropout_forward(x, dropout_param); dx = dropout_backward(dout, cache)
#   dx_num = eval_numerical_gradient_array(lambda xx: dropout_forward(xx, dropout_param)[0], x, dout)
DROPOUT_BACKWARD = {
    "dropout_param": {"mode": "train", "p": 0.2, "seed": 123},
    "printed_dx_error": 5.44560814873387e-11,  # identical in both 2022 repos
    "stated_bound": 1e-10,  # "Error should be around e-10 or less."
}

# ---------------------------------------------------------------------------
# 7. BN vs baseline 6-layer experiment (INFORMATION ONLY; needs full CIFAR-10)
# ---------------------------------------------------------------------------
#   np.random.seed(231); hidden_dims = [100] * 5; num_train = 1000; weight_scale = 2e-2
#   bn_model = FullyConnectedNet(hidden_dims, weight_scale=weight_scale, normalization='batchnorm')
#   model = FullyConnectedNet(hidden_dims, weight_scale=weight_scale, normalization=None)
#   Solver(..., num_epochs=10, batch_size=50, update_rule='adam', optim_config={'learning_rate': 1e-3},
#          verbose=True, print_every=20)
# Only the first-iteration losses agree between repositories; the accuracies do not.
SOURCE_BN_EXPERIMENT = SOURCE_BATCHNORM
BN_DEEP_EXPERIMENT = {
    "first_loss_batchnorm": 2.340974,  # both repos
    "first_loss_baseline": (2.302331, 2.302332),  # AnirudhM1 / Chants77
    "final_train_acc_batchnorm": (0.794, 0.729),  # epoch 10, AnirudhM1 / Chants77
    "final_train_acc_baseline": (0.726, 0.431),
    "final_val_acc_batchnorm": (0.335, 0.330),
    "final_val_acc_baseline": (0.318, 0.274),
}

# ---------------------------------------------------------------------------
# Found but deliberately NOT used
# ---------------------------------------------------------------------------
# Old (2017/18) drop-probability convention (FullyConnectedNet(..., dropout=p, seed=123) with
# dropout = DROP probability): printed initial loss 2.302454105929313 for dropout=0.25.
# 0suh/cs231n_2021:assignment2/Dropout.ipynb runs the 2021 notebook with a drop-probability
# implementation: train means 7.49864921084135 / 5.9861464552595125 / 3.008739539965901,
# zero fractions 0.250168 / 0.401368 / 0.69926, dropout-net losses 2.30243295149488 (0.75) and
# 2.304470252186846 (0.5), dx error 1.892896957390533e-11.  These contradict the keep-probability
# values above and belong to the other convention.
EXCLUDED_OLD_DROPOUT_CONVENTION = {
    "old_notebook_dropout_0.25_loss": 2.302454105929313,
    "0suh_2021_drop_prob_impl_losses": {0.75: 2.30243295149488, 0.5: 2.304470252186846},
}
# ../shared/seeds/001_15691f710f150164.txt (UCLA HW4) reproduces the same optimizer cells but its
# transcription has digit errors, e.g. sgd expected_next_w[0][0] 0.406 (cs231n: 0.1406), rmsprop
# expected_next_w[1][2] -0.02891884 (cs231n: -0.02881884), adam expected_next_w[2][3] 0.28293667
# (cs231n: 0.28259667).  Use the cs231n values above.
EXCLUDED_TRANSCRIPTION_TYPOS = {
    "seed001_sgd_next_w_0_0": 0.406,
    "seed001_rmsprop_next_w_1_2": -0.02891884,
    "seed001_adam_next_w_2_3": 0.28293667,
}
