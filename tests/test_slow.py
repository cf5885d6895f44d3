"""End-to-end on a real benchmark exemplar with default settings (minutes).

python -m pytest -m slow
"""

from pathlib import Path

import pytest
from click.testing import CliRunner

from patchtex import quality
from patchtex.cli import main
from patchtex.images import load_image

BENCH = Path(__file__).resolve().parents[2] / "shared" / "bench"

pytestmark = pytest.mark.slow


@pytest.mark.skipif(not (BENCH / "bricks.png").exists(), reason="needs ../shared/bench")
def test_fit_bench_exemplar_with_defaults(tmp_path):
    runner = CliRunner()
    model = tmp_path / "bricks.patchtex.safetensors"
    result = runner.invoke(main, ["fit", str(BENCH / "bricks.png"), "-o", str(model), "--quiet", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    ref = load_image(BENCH / "bricks.ref.png").pixels
    ex = load_image(BENCH / "bricks.png").pixels
    height, width = ref.shape[-2:]
    outs = []
    for seed in (1, 2):
        out = tmp_path / f"s{seed}.png"
        result = runner.invoke(
            main, ["synth", str(model), "--size", f"{width}x{height}", "--seed", str(seed), "-o", str(out)]
        )
        assert result.exit_code == 0, result.output
        outs.append(load_image(out).pixels)
    floor = quality.patch_swd(ex, ref)
    # far from noise (about 5x the floor) and from a blur; not a copy; not one image twice
    assert quality.patch_swd(outs[0], ref) / floor < 3.0
    assert quality.copy_fraction(outs[0], ex) <= 0.05
    assert quality.diversity(outs, ex) >= 0.5
