"""BN-Inception: layer graph and parameter count, the state_dict converter against a PyTorch
reference forward pass, save/reload, the cross-modality initialisation of the temporal stream.

`REFERENCE_CONVS` is tabulated by hand from the public PyTorch definition (Cadene's
`pretrainedmodels/models/bninception.py`, the same layers as TSN-pytorch's BN-Inception): every
convolution's name, input channels, output channels, kernel size and stride. The random
state_dict, the parameter count and the PyTorch forward pass below are built from this table
only, independently of keras_wsal's own module table.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

from keras_wsal.backbones import (  # noqa: E402
    convert_bninception_state_dict,
    cross_modality_init,
    load_state_dict,
    make_backbone,
)
from keras_wsal.backbones.bn_inception import bn_inception  # noqa: E402
from keras_wsal.errors import DataError  # noqa: E402


def _module(name, cin, n1, r3, n3, rd, nd, proj):
    """The 7 convolutions of a stride-1 module with input channels `cin`."""
    p = f"inception_{name}"
    return [
        (f"{p}_1x1", cin, n1, 1, 1),
        (f"{p}_3x3_reduce", cin, r3, 1, 1),
        (f"{p}_3x3", r3, n3, 3, 1),
        (f"{p}_double_3x3_reduce", cin, rd, 1, 1),
        (f"{p}_double_3x3_1", rd, nd, 3, 1),
        (f"{p}_double_3x3_2", nd, nd, 3, 1),
        (f"{p}_pool_proj", cin, proj, 1, 1),
    ]


def _reduction(name, cin, r3, n3, rd, nd):
    """The 5 convolutions of a stride-2 module (3c, 4e)."""
    p = f"inception_{name}"
    return [
        (f"{p}_3x3_reduce", cin, r3, 1, 1),
        (f"{p}_3x3", r3, n3, 3, 2),
        (f"{p}_double_3x3_reduce", cin, rd, 1, 1),
        (f"{p}_double_3x3_1", rd, nd, 3, 1),
        (f"{p}_double_3x3_2", nd, nd, 3, 2),
    ]


REFERENCE_CONVS = [
    ("conv1_7x7_s2", 3, 64, 7, 2),
    ("conv2_3x3_reduce", 64, 64, 1, 1),
    ("conv2_3x3", 64, 192, 3, 1),
    *_module("3a", 192, 64, 64, 64, 64, 96, 32),
    *_module("3b", 256, 64, 64, 96, 64, 96, 64),
    *_reduction("3c", 320, 128, 160, 64, 96),
    *_module("4a", 576, 224, 64, 96, 96, 128, 128),
    *_module("4b", 576, 192, 96, 128, 96, 128, 128),
    *_module("4c", 576, 160, 128, 160, 128, 160, 128),
    *_module("4d", 608, 96, 128, 192, 160, 192, 128),
    *_reduction("4e", 608, 128, 192, 192, 256),
    *_module("5a", 1056, 352, 192, 320, 160, 224, 128),
    *_module("5b", 1024, 352, 192, 320, 192, 224, 128),
]
MODULES = ["3a", "3b", "3c", "4a", "4b", "4c", "4d", "4e", "5a", "5b"]


def _random_state_dict(convs, seed=0):
    """Random weights with the released state_dict's keys and shapes (plus the classifier)."""
    rng = np.random.default_rng(seed)
    state = {}
    for name, cin, cout, k, _ in convs:
        fan_in = cin * k * k
        state[f"{name}.weight"] = rng.normal(0, np.sqrt(2 / fan_in), (cout, cin, k, k))
        state[f"{name}.bias"] = rng.normal(0, 0.1, cout)
        state[f"{name}_bn.weight"] = rng.uniform(0.5, 1.5, cout)
        state[f"{name}_bn.bias"] = rng.normal(0, 0.1, cout)
        state[f"{name}_bn.running_mean"] = rng.normal(0, 0.1, cout)
        state[f"{name}_bn.running_var"] = rng.uniform(0.5, 1.5, cout)
        state[f"{name}_bn.num_batches_tracked"] = np.array(7)
    state["last_linear.weight"] = rng.normal(0, 0.01, (1000, 1024))
    state["last_linear.bias"] = np.zeros(1000)
    return {
        k: torch.tensor(v, dtype=torch.float32 if v.ndim else torch.int64) for k, v in state.items()
    }


def _torch_bn_inception(state, x):
    """The reference forward pass (eval mode) in PyTorch, NCHW, BGR input."""

    def unit(x, name, stride=1):
        weight = state[f"{name}.weight"]
        x = F.conv2d(x, weight, state[f"{name}.bias"], stride=stride, padding=weight.shape[-1] // 2)
        bn = f"{name}_bn"
        x = F.batch_norm(
            x,
            state[f"{bn}.running_mean"],
            state[f"{bn}.running_var"],
            state[f"{bn}.weight"],
            state[f"{bn}.bias"],
            training=False,
            eps=1e-5,
        )
        return F.relu(x)

    x = unit(x, "conv1_7x7_s2", 2)
    x = F.max_pool2d(x, 3, 2, ceil_mode=True)
    x = unit(unit(x, "conv2_3x3_reduce"), "conv2_3x3")
    x = F.max_pool2d(x, 3, 2, ceil_mode=True)
    for module in MODULES:
        p = f"inception_{module}"
        stride = 2 if module in ("3c", "4e") else 1
        branches = [] if stride == 2 else [unit(x, f"{p}_1x1")]
        branches.append(unit(unit(x, f"{p}_3x3_reduce"), f"{p}_3x3", stride))
        double = unit(unit(x, f"{p}_double_3x3_reduce"), f"{p}_double_3x3_1")
        branches.append(unit(double, f"{p}_double_3x3_2", stride))
        if stride == 2:
            branches.append(F.max_pool2d(x, 3, 2, ceil_mode=True))
        else:
            if module == "5b":
                pooled = F.max_pool2d(x, 3, 1, padding=1, ceil_mode=True)
            else:
                pooled = F.avg_pool2d(x, 3, 1, padding=1, ceil_mode=True, count_include_pad=True)
            branches.append(unit(pooled, f"{p}_pool_proj"))
        x = torch.cat(branches, dim=1)
    return x.mean(dim=(2, 3))


@pytest.fixture(scope="module")
def state_dict():
    return _random_state_dict(REFERENCE_CONVS)


@pytest.fixture(scope="module")
def pth_path(state_dict, tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "bn_inception.pth"
    torch.save(state_dict, path)
    return path


@pytest.fixture(scope="module")
def rgb_model(pth_path):
    """BN-Inception on RGB images of any size, with the random released-layout weights."""
    return convert_bninception_state_dict(pth_path, bn_inception((None, None, 3)))


def test_layer_graph_and_parameter_count(rgb_model):
    convs = {
        layer.name: tuple(layer.kernel.shape)
        for layer in rgb_model.layers
        if layer.__class__.__name__ == "Conv2D"
    }
    expected = {name: (k, k, cin, cout) for name, cin, cout, k, _ in REFERENCE_CONVS}
    assert convs == expected
    strides = {
        layer.name: layer.strides[0]
        for layer in rgb_model.layers
        if layer.__class__.__name__ == "Conv2D"
    }
    assert strides == {name: stride for name, _, _, _, stride in REFERENCE_CONVS}
    # Per convolution: k*k*cin*cout weights + cout biases; per BN: gamma, beta (trainable) and
    # the moving mean and variance.
    trainable = sum(k * k * cin * cout + cout + 2 * cout for _, cin, cout, k, _ in REFERENCE_CONVS)
    moving = sum(2 * cout for _, _, cout, _, _ in REFERENCE_CONVS)
    assert trainable == 10_270_240
    assert sum(int(np.prod(w.shape)) for w in rgb_model.trainable_weights) == trainable
    assert rgb_model.count_params() == trainable + moving
    # With the 1000-class ImageNet classifier (1024 * 1000 + 1000): 11,295,240, the number of
    # parameters of the PyTorch reference model (`sum(p.numel() for p in model.parameters())`).
    assert trainable + 1024 * 1000 + 1000 == 11_295_240
    assert rgb_model.output_shape == (None, 1024)


@pytest.mark.parametrize("size", [224, 226])
def test_converted_model_matches_the_pytorch_reference(rgb_model, state_dict, size):
    # 226 makes the first max pooling's input odd (113): PyTorch's ceil_mode decides its size.
    rgb = np.random.default_rng(size).uniform(-120, 120, (1, size, size, 3)).astype(np.float32)
    keras_features = np.asarray(rgb_model(rgb))
    bgr_nchw = torch.from_numpy(np.ascontiguousarray(rgb[..., ::-1].transpose(0, 3, 1, 2)))
    with torch.no_grad():
        reference = _torch_bn_inception(state_dict, bgr_nchw).numpy()
    assert keras_features.shape == (1, 1024)
    scale = np.abs(reference).max()
    assert scale > 0.1
    np.testing.assert_allclose(keras_features, reference, atol=1e-4 * scale, rtol=1e-4)


def test_weights_land_in_the_right_layers(rgb_model, state_dict):
    def kernel(name):
        return np.asarray(rgb_model.get_layer(name).kernel)

    released = state_dict["inception_4d_double_3x3_1.weight"].numpy()
    np.testing.assert_array_equal(
        kernel("inception_4d_double_3x3_1"), released.transpose(2, 3, 1, 0)
    )
    # The first convolution's input channels go from BGR (released) to RGB (keras_wsal).
    conv1 = state_dict["conv1_7x7_s2.weight"].numpy()
    np.testing.assert_array_equal(
        kernel("conv1_7x7_s2")[:, :, 0, :], conv1[:, 2].transpose(1, 2, 0)
    )
    bn = rgb_model.get_layer("inception_5b_pool_proj_bn")
    np.testing.assert_array_equal(
        np.asarray(bn.moving_variance), state_dict["inception_5b_pool_proj_bn.running_var"].numpy()
    )
    np.testing.assert_array_equal(
        np.asarray(bn.gamma), state_dict["inception_5b_pool_proj_bn.weight"].numpy()
    )


def test_saved_and_reloaded_model_gives_identical_outputs(rgb_model, tmp_path):
    images = np.random.default_rng(1).uniform(-100, 100, (2, 224, 224, 3)).astype(np.float32)
    expected = np.asarray(rgb_model(images))
    path = tmp_path / "backbone.weights.h5"
    rgb_model.save_weights(path)
    reloaded = make_backbone("bn_inception", input_shape=(None, None, 3), weights=path)
    np.testing.assert_array_equal(np.asarray(reloaded(images)), expected)


def test_temporal_stream_cross_modality_init(rgb_model, state_dict):
    flow = make_backbone("bn_inception", stream="flow")
    assert flow.input_shape == (None, 224, 224, 10)
    cross_modality_init(rgb_model, flow)
    kernel = np.asarray(flow.get_layer("conv1_7x7_s2").kernel)
    released = state_dict["conv1_7x7_s2.weight"].numpy().astype(np.float64)  # [64, 3, 7, 7]
    mean = released.mean(axis=1).astype(np.float32).transpose(1, 2, 0)  # [7, 7, 64]
    assert kernel.shape == (7, 7, 10, 64)
    # Exact: the float64 mean of the 3 channels rounded once to float32, in all 10 channels.
    for channel in range(10):
        np.testing.assert_array_equal(kernel[:, :, channel, :], mean)
    for name in ("conv1_7x7_s2_bn", "inception_3a_1x1", "inception_5b_pool_proj_bn"):
        for a, b in zip(
            flow.get_layer(name).weights, rgb_model.get_layer(name).weights, strict=True
        ):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # The converter does the same when it loads 3-channel weights into the 10-channel model.
    flow.get_layer("conv1_7x7_s2").kernel.assign(np.zeros((7, 7, 10, 64), np.float32))
    convert_bninception_state_dict(state_dict, flow)
    np.testing.assert_array_equal(np.asarray(flow.get_layer("conv1_7x7_s2").kernel), kernel)
    stacks = np.random.default_rng(2).uniform(-20, 20, (1, 224, 224, 10)).astype(np.float32)
    features = np.asarray(flow(stacks))
    assert features.shape == (1, 1024) and np.all(np.isfinite(features))


def test_wrong_architecture_is_named_and_leaves_the_model_unchanged(rgb_model, state_dict):
    before = np.asarray(rgb_model.get_layer("inception_3a_1x1").kernel).copy()
    wrong = dict(state_dict)
    wrong["inception_4c_3x3.weight"] = torch.zeros(160, 100, 3, 3)
    wrong["inception_3a_1x1.weight"] = torch.ones(64, 192, 1, 1)
    with pytest.raises(
        DataError,
        match=r"'inception_4c_3x3.weight' has shape \(160, 100, 3, 3\).*\(160, 128, 3, 3\)",
    ):
        convert_bninception_state_dict(wrong, rgb_model)
    np.testing.assert_array_equal(
        np.asarray(rgb_model.get_layer("inception_3a_1x1").kernel), before
    )

    missing = {k: v for k, v in state_dict.items() if k != "inception_5a_3x3_bn.running_var"}
    with pytest.raises(DataError, match="no 'inception_5a_3x3_bn.running_var'"):
        convert_bninception_state_dict(missing, rgb_model)
    extra = dict(state_dict, **{"layer4.0.conv1.weight": torch.zeros(3)})
    with pytest.raises(DataError, match=r"not BN-Inception layers .*layer4.0.conv1.weight"):
        convert_bninception_state_dict(extra, rgb_model)
    with pytest.raises(DataError, match="no 4-D conv1_7x7_s2.weight"):
        convert_bninception_state_dict({"conv1.weight": torch.zeros(64, 3, 7, 7)}, rgb_model)


def test_npz_and_checkpoint_layouts_read_the_same_arrays(rgb_model, state_dict, tmp_path):
    arrays = {k: v.numpy() for k, v in state_dict.items()}
    npz = tmp_path / "weights.npz"
    np.savez(npz, **arrays)
    # TSN-pytorch's layout: a checkpoint dict, DataParallel prefixes, BN vectors as [1, C].
    checkpoint = tmp_path / "checkpoint.pth.tar"
    tsn_layout = {
        f"module.base_model.{k}": v[None] if "_bn." in k and v.ndim == 1 else v
        for k, v in state_dict.items()
    }
    torch.save({"epoch": 3, "state_dict": tsn_layout}, checkpoint)
    for source in (npz, checkpoint):
        loaded = load_state_dict(source)
        assert loaded.keys() == arrays.keys()
        np.testing.assert_array_equal(loaded["conv2_3x3.weight"], arrays["conv2_3x3.weight"])
    assert load_state_dict(checkpoint)["conv2_3x3_bn.running_var"].shape == (1, 192)
    bn = rgb_model.get_layer("conv2_3x3_bn")
    bn.moving_variance.assign(np.zeros(192, np.float32))
    convert_bninception_state_dict(checkpoint, rgb_model)
    np.testing.assert_array_equal(
        np.asarray(bn.moving_variance), arrays["conv2_3x3_bn.running_var"]
    )
    with pytest.raises(DataError, match="does not exist"):
        load_state_dict(tmp_path / "absent.pth")
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a torch file")
    with pytest.raises(DataError, match="garbage.pth"):
        load_state_dict(garbage)
