"""Your own model, through the one-call API (``fungi_hb.evaluate``) and through ``--model file.py:FUNCTION``:
the same numbers by either road, torchvision's ViT with its patch-token function (refused at a layer its
forward pass never calls as a module), and each kind of bad model in one line."""

import json
import logging
import re
import tempfile
from pathlib import Path

import pytest
import torch
import torchvision
from torchvision.models.vision_transformer import VisionTransformer

import fungi_hb
from conftest import make_data
from fungi_hb.cli import create_memory_bank, eval_gradients

MODEL_FILE = '''
import torch
from torch import nn


class Patches(nn.Module):
    """images [B, 3, S, S] -> patch tokens [B, (S/16)^2, 32]: a patch embedding and a small MLP."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Conv2d(3, 32, 16, stride=16)
        self.norm = nn.LayerNorm(32)
        self.mix = nn.Linear(32, 64)
        self.out = nn.Linear(64, 32)

    def forward(self, images):
        x = self.embed(images).flatten(2).transpose(1, 2)  # (B, P, 32)
        return x + self.out(torch.relu(self.mix(self.norm(x))))


def build():
    return Patches()


def broken():
    raise RuntimeError("cannot find my checkpoint")


def not_a_module():
    return {"weights": 1}


def with_cls():
    class WithCls(Patches):
        def forward(self, images):
            tokens = super().forward(images)
            return torch.cat([tokens[:, :1], tokens], dim=1)

    return WithCls()


def with_nan():
    class Nan(Patches):
        def forward(self, images):
            return super().forward(images) * float("nan")

    return Nan()
'''
SETTINGS = dict(input_size=64, num_workers=0, index_backend="exact", num_neighbors=10, batch_size=4, seed=42)


def flags(settings: dict) -> list[str]:
    return [part for name, value in settings.items() for part in (f"--{name.replace('_', '-')}", str(value))]


@pytest.fixture()
def model_file(tmp_path):
    path = tmp_path / "my_model.py"
    path.write_text(MODEL_FILE)
    return path


@pytest.fixture()
def data(tmp_path):
    return make_data(tmp_path / "data", num_train=6, num_val=3)


def tiny_torchvision_vit(image_size: int = 64, layers: int = 2) -> VisionTransformer:
    """The class behind torchvision's vit_b_16, at a size a test affords."""
    torch.manual_seed(0)
    return VisionTransformer(image_size, 16, num_layers=layers, num_heads=2, hidden_dim=32, mlp_dim=64)


def vit_patch_tokens(vit: VisionTransformer, images: torch.Tensor) -> torch.Tensor:
    """torchvision's ViT: the last block's tokens after the final norm, CLS dropped."""
    x = vit._process_input(images)  # (B, P, E)
    return vit.encoder(torch.cat([vit.class_token.expand(len(x), -1, -1), x], dim=1))[:, 1:]


@pytest.mark.slow
@pytest.mark.parametrize("features", ["embeddings", "fungi"])
def test_the_api_and_the_scripts_give_the_same_miou(tmp_path, model_file, data, features):
    import importlib.util

    spec = importlib.util.spec_from_file_location("my_model_here", model_file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    torch.manual_seed(42)  # what the scripts do before calling FUNCTION(): the same random weights
    model = module.build()
    settings = dict(SETTINGS, gradients_layer="backbone.mix")
    api = fungi_hb.evaluate(model, data, features=features, output_dir=tmp_path / "api", **settings)

    model_and_data = ["--model", f"{model_file}:build", "--data-dir", data]
    support = ["--memory-bank", str(tmp_path / "s" / "features.pth"), "--scann-index", str(tmp_path / "s" / "index")]
    labels = ["--memory-bank-labels", str(tmp_path / "s" / "labels.pth")]
    bank_settings = dict(SETTINGS, num_neighbors=5, batch_size=32)  # create_memory_bank.py's own k and batch
    assert create_memory_bank.main([*model_and_data, *flags(bank_settings), *support, *labels]) == 0
    out = tmp_path / "script.json"
    evaluation = [*model_and_data, *flags(SETTINGS), *support, "--features", features, "--output", str(out),
                  "--gradients-layer", "backbone.mix"]  # fmt: skip
    assert eval_gradients.main(evaluation) == 0
    script = json.loads(out.read_text())
    assert api["miou"] == script["miou"] and api["tp"] == script["tp"]  # bit-identical by either road
    assert api["backbone"]["num_prefix_tokens"] == 0 and api["backbone"]["patch_size"] == 16
    assert script["feature_identity"]["model"] == f"{model_file}:build"
    assert "weights sha1" in script["feature_identity"]["weights"]
    assert (tmp_path / "api" / f"results_{features}.json").is_file()
    assert (tmp_path / "api" / "support" / "index").is_dir() == (features == "fungi")


def test_nothing_is_left_on_disk_without_an_output_folder(tmp_path, data, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", None)  # TMPDIR read again
    results = fungi_hb.evaluate(tiny_torchvision_vit(), data, vit_patch_tokens, features="embeddings", **SETTINGS)
    assert 0 <= results["miou"] <= 1 and results["memory_dim"] == 32 and results["num_val_images"] == 3
    assert list((tmp_path / "tmp").iterdir()) == []
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == sorted(
        ["images", "SegmentationClass", "SegmentationClassAug", "sets"]
    )


def test_torchvisions_vit_is_refused_at_the_fused_out_proj_and_works_at_an_mlp_linear(tmp_path, data):
    vit = tiny_torchvision_vit()
    with pytest.raises(fungi_hb.UserError) as refused:
        out_proj = "backbone.encoder.layers.-1.self_attention.out_proj"
        fungi_hb.evaluate(vit, data, vit_patch_tokens, gradients_layer=out_proj, **SETTINGS)
    message = str(refused.value)
    assert "backbone.encoder.layers.encoder_layer_1.self_attention.out_proj is never called as a module" in message
    assert "backbone.encoder.layers.encoder_layer_1.mlp.3" in message  # a Linear layer that does run
    assert "gradients_layer" in message and "--gradients-layer" not in message  # the API's own name
    assert not (tmp_path / "support").exists()
    results = fungi_hb.evaluate(vit, data, vit_patch_tokens, gradients_layer="backbone.encoder.layers.-1.mlp.3",
                                output_dir=tmp_path / "out", **SETTINGS)  # fmt: skip
    identity = results["feature_identity"]
    assert identity["fungi"]["gradients_layer"] == "backbone.encoder.layers.encoder_layer_1.mlp.3"
    assert results["memory_dim"] == 64 and 0 <= results["miou"] <= 1


def test_the_real_vit_b_16_is_refused_at_its_last_out_proj_before_anything_long(data, caplog):
    vit = torchvision.models.vit_b_16(image_size=32)
    layer = "backbone.encoder.layers.encoder_layer_11.self_attention.out_proj"
    with pytest.raises(fungi_hb.UserError, match="encoder_layer_11.self_attention.out_proj is never called"):
        fungi_hb.evaluate(vit, data, vit_patch_tokens, gradients_layer=layer, input_size=32, num_workers=0)
    assert "memory bank" not in caplog.text  # refused before the support bank


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"memory_sise": 100}, "Unknown setting: memory_sise (did you mean memory_size?)"),
        ({"memory_size": -5}, "`memory_size` -5: must be at least 1"),
        ({"features": "both"}, "`features` 'both' is not one of fungi, embeddings"),
        ({"use_fp16": "yes"}, "`use_fp16` takes True or False"),
        ({"weights": "random"}, "weights random is not used with your own model, which brings its own weights"),
    ],
)
def test_bad_settings_are_refused_in_one_line(data, settings, message):
    with pytest.raises(fungi_hb.UserError, match=re.escape(message)):
        fungi_hb.evaluate(tiny_torchvision_vit(), data, vit_patch_tokens, **settings)


def test_a_model_on_another_device_and_tokens_that_are_not_patches(data):
    with pytest.raises(fungi_hb.UserError, match="the model's weights are on meta but the run is on cpu"):
        fungi_hb.evaluate(tiny_torchvision_vit().to("meta"), data, vit_patch_tokens, device="cpu", **dict(SETTINGS))
    with pytest.raises(fungi_hb.UserError, match=r"returns a tensor of shape \(2, 1000\)"):
        fungi_hb.evaluate(tiny_torchvision_vit(), data, **SETTINGS)  # its forward: class scores


@pytest.mark.parametrize(
    "spec, message",
    [
        ("missing.py:build", "the file {folder}/missing.py does not exist"),
        ("my_model.py:nothing", "my_model.py has no function 'nothing' (it has: Patches, broken, build"),
        ("my_model.py:broken", "raised RuntimeError: cannot find my checkpoint"),
        ("my_model.py:not_a_module", "returned a dict, not a torch.nn.Module"),
        ("my_model.py:with_cls", "gives 17 tokens per image at 64 px: not a square grid. It looks like 1 extra"),
        ("my_model.py:with_nan", "gives NaN or infinite tokens"),
        ("no_such_package.models:build", "importing no_such_package.models failed: ModuleNotFoundError"),
    ],
)
def test_a_bad_model_function_is_one_line_and_exit_2(tmp_path, model_file, data, caplog, spec, message):
    folder = model_file.parent
    spec = str(folder / spec) if ".py" in spec else spec
    out = tmp_path / "o"
    outputs = [
        "--memory-bank",
        str(out / "f.pth"),
        "--memory-bank-labels",
        str(out / "l.pth"),
        "--scann-index",
        str(out / "i"),
    ]
    args = ["--model", spec, "--data-dir", data, *flags(SETTINGS), *outputs]
    with caplog.at_level(logging.INFO):
        assert create_memory_bank.main(args) == 2
    assert message.format(folder=folder) in caplog.text and "Traceback" not in caplog.text
    assert not (out / "f.pth").exists()


def test_weights_given_with_your_own_model_are_refused_not_ignored(tmp_path, model_file, data, caplog):
    out = tmp_path / "o"
    outputs = ["--memory-bank", str(out / "f.pth"), "--memory-bank-labels", str(out / "l.pth")]
    args = ["--model", f"{model_file}:build", "--weights", "my.pth", "--data-dir", data, *flags(SETTINGS), *outputs]
    assert create_memory_bank.main([*args, "--scann-index", str(out / "i")]) == 2
    assert "--weights my.pth is not used with your own model" in caplog.text


TORCHRUN_CALL = """
import json, sys, torch
import fungi_hb
sys.path.insert(0, sys.argv[1])
from my_model import build

torch.manual_seed(42)
results = fungi_hb.evaluate(build(), sys.argv[2], features="fungi", gradients_layer="backbone.mix",
                            piece_images=2, **json.loads(sys.argv[4]))
if results is not None:
    open(sys.argv[3], "w").write(json.dumps(results))
"""


@pytest.mark.slow
def test_the_api_under_torchrun_gives_the_one_process_number(tmp_path, model_file, data):
    import subprocess
    import sys

    from conftest import ROOT

    (tmp_path / "call.py").write_text(TORCHRUN_CALL)
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    out = tmp_path / "sharded.json"
    command = [*launcher, str(tmp_path / "call.py"), str(model_file.parent), data, str(out), json.dumps(SETTINGS)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    sharded = json.loads(out.read_text())
    import importlib.util

    spec = importlib.util.spec_from_file_location("my_model_one", model_file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    torch.manual_seed(42)
    one = fungi_hb.evaluate(module.build(), data, features="fungi", gradients_layer="backbone.mix", piece_images=2,
                            **SETTINGS)  # fmt: skip
    assert sharded["processes"] == 2 and one["processes"] == 1
    assert sharded["miou"] == one["miou"] and sharded["tp"] == one["tp"]
    assert not list(Path(tempfile.gettempdir()).glob("fungi-hb-*"))  # the shared temporary folder is gone
