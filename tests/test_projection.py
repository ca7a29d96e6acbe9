import pytest
import torch

from fungi_hb.errors import UserError
from fungi_hb.fungi.projection import make_projection, project_token_gradients
from fungi_hb.storage.projection_file import load_projection, save_projection


@pytest.mark.parametrize("chunk", [1, 3, 16, 1000])
def test_chunked_equals_unchunked(chunk):
    torch.manual_seed(0)
    x, d = torch.randn(37, 12), torch.randn(37, 6)
    r = make_projection(10, 6 * 13, seed=0).float()
    whole = project_token_gradients(x, d, r, chunk_tokens=37)
    torch.testing.assert_close(project_token_gradients(x, d, r, chunk_tokens=chunk), whole, rtol=1e-5, atol=1e-5)


def test_projection_is_plus_minus_one_balanced_and_seeded():
    a, b, c = make_projection(64, 1000, 3), make_projection(64, 1000, 3), make_projection(64, 1000, 4)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert set(a.unique().tolist()) == {-1, 1}
    assert abs(a.float().mean().item()) < 0.02


def test_save_load_roundtrip_and_shape_check(tmp_path):
    r = make_projection(8, 20, 0)
    save_projection(r, tmp_path / "r.pth")
    assert torch.equal(load_projection(tmp_path / "r.pth", 8, 20), r)
    with pytest.raises(UserError, match=r"\(8, 21\)"):
        load_projection(tmp_path / "r.pth", 8, 21)
    with pytest.raises(UserError, match="does not exist"):
        load_projection(tmp_path / "missing.pth", 8, 20)
