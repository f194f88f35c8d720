"""Keras model -> SavedModel -> TF.js graph model (Keras-3 layers-model JSON does not load in TF.js)."""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

QUANTIZATIONS: dict[str, list[str]] = {
    "float32": [],
    "float16": ["--quantize_float16=*"],
    "uint8": ["--quantize_uint8=*"],
    # the layers export/mixed.py chose in uint8 (quantization_flags adds them), every other weight float16
    "mixed": ["--quantize_float16"],
}


def quantization_flags(quantization: str, uint8_layers: tuple[str, ...] = ()) -> list[str]:
    """The converter's flags; "mixed" stores the folded kernels of ``uint8_layers`` in uint8."""
    if quantization not in QUANTIZATIONS:
        raise ExportError(f"Unknown quantization {quantization!r}; choose from {sorted(QUANTIZATIONS)}.")
    if quantization != "mixed":
        return QUANTIZATIONS[quantization]
    if not uint8_layers:
        raise ExportError("A mixed export needs the layers to store in uint8 (export/mixed.py chooses them).")
    # The graph names a layer's (folded, export/folding.py) kernel .../<layer>_<n>/convolution/ReadVariableOp.
    patterns = ",".join(f"*/{name}_*/convolution/ReadVariableOp" for name in uint8_layers)
    return [*QUANTIZATIONS["mixed"], f"--quantize_uint8={patterns}"]


def uint8_weights(model_dir: Path) -> list[str]:
    """Names of the weights model.json stores in uint8."""
    manifest = json.loads((Path(model_dir) / "model.json").read_text())["weightsManifest"]
    return [w["name"] for group in manifest for w in group["weights"]
            if w.get("quantization", {}).get("dtype") == "uint8"]


class ExportError(RuntimeError):
    """The conversion failed; the message carries the converter's own output."""


def converter_command() -> list[str]:
    script = Path(sys.executable).with_name("tensorflowjs_converter")
    if not script.is_file():
        raise ExportError(f"tensorflowjs_converter not found next to {sys.executable}; install the project (make install).")
    return [str(script)]


def convert_model(model, out_dir: Path, quantization: str = "float32", uint8_layers: tuple[str, ...] = ()) -> None:
    """Write model.json + weight shards of a Keras model into ``out_dir`` (replacing older shards)."""
    flags = quantization_flags(quantization, uint8_layers)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in [*out_dir.glob("group*-shard*.bin"), out_dir / "model.json"]:
        old.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        saved = Path(tmp) / "saved_model"
        model.export(str(saved), format="tf_saved_model", verbose=False)
        # Quantization flags must come before the positional paths.
        command = [*converter_command(), "--input_format=tf_saved_model", "--output_format=tfjs_graph_model",
                   "--signature_name=serving_default", *flags, str(saved), str(out_dir)]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise ExportError(f"tensorflowjs_converter failed ({result.returncode}):\n{result.stderr[-3000:]}")
    if quantization == "mixed" and len(stored := uint8_weights(out_dir)) != len(uint8_layers):
        raise ExportError(f"{len(uint8_layers)} layers were to be stored in uint8 but model.json has "
                          f"{len(stored)} uint8 weights: the graph's weight names have changed.")


# Folded, this layer's kernel loses too much in float16: on 400 validation images the mean probability change
# of a float16 export doubled (0.0004 -> 0.0008) and the top class moved on 2 of them; left unfolded (its
# multiply and add run as two small kernels on the first 32 channels) it is 0.0004 and none, and every other
# layer folded changes nothing measurable.
UNFOLDED = ("expanded_conv_depthwise",)


def deployable_model(classifier, ood: dict | None, outline=None):
    """What the browser runs: the classifier with CAM, OOD score and, with a fitted decoder, the lesion outline
    (train/model/explained.py), its batch norms folded into the convolutions (export/folding.py) but for
    ``UNFOLDED``."""
    from export.folding import fold_batch_norms
    from train.model.explained import explained_model

    return explained_model(fold_batch_norms(classifier, keep=UNFOLDED), ood, outline=outline)


def convert_run(train_dir: Path, out_dir: Path, quantization: str = "float32",
                uint8_layers: tuple[str, ...] = ()) -> None:
    """The deployable graph of a training run."""
    import keras

    from train.model.explained import load_ood_stats
    from train.segmentation.decoder import load_outline

    classifier = keras.saving.load_model(Path(train_dir) / "model.keras", compile=False)
    graph = deployable_model(classifier, load_ood_stats(Path(train_dir)), load_outline(Path(train_dir)))
    convert_model(graph, out_dir, quantization, uint8_layers)


def output_nodes(model_dir: Path) -> dict[str, str]:
    """Graph node of each named output (logits, cams, ood_distance), from model.json's signature."""
    signature = json.loads((Path(model_dir) / "model.json").read_text())["signature"]["outputs"]
    return {key: spec["name"] for key, spec in signature.items()}


def sha256_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def weight_files(model_dir: Path) -> list[Path]:
    return sorted(Path(model_dir).glob("group*-shard*.bin"))


def weight_bytes(model_dir: Path) -> int:
    return sum(f.stat().st_size for f in weight_files(model_dir))


def model_file_digests(model_dir: Path) -> dict[str, str]:
    """sha256 of model.json and every weight shard, by file name (what metadata.json pins)."""
    return {f.name: sha256_file(f) for f in [Path(model_dir) / "model.json", *weight_files(model_dir)]}


def copy_model(src: Path, dst: Path) -> None:
    """Replace the graph model in ``dst`` with the one in ``src`` (model.json + shards only)."""
    dst.mkdir(parents=True, exist_ok=True)
    for old in [*weight_files(dst), dst / "model.json"]:
        old.unlink(missing_ok=True)
    for f in [src / "model.json", *weight_files(src)]:
        shutil.copy2(f, dst / f.name)
