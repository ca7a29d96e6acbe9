import pytest
import torch

from fungi_hb.errors import UserError
from fungi_hb.fungi.projection import make_projection, project_token_gradients
from fungi_hb.jobs.feature_setup import load_projection
from fungi_hb.storage.projection_file import save_projection


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


def test_the_published_dict_format_loads(tmp_path):
    """The published code saves {matrix, scaling}; a global scale does not change normalised features."""
    r = make_projection(8, 20, 0)
    torch.save({"projection_matrix": r.float(), "scaling_factor": torch.tensor(8**-0.5)}, tmp_path / "pub.pth")
    assert torch.equal(load_projection(tmp_path / "pub.pth", 8, 20), r)
    torch.save({"matrix": r.float() * 0.25, "note": "scaled"}, tmp_path / "scaled.pth")
    assert torch.equal(load_projection(tmp_path / "scaled.pth", 8, 20), r)
    torch.save({"matrix": torch.randn(8, 20)}, tmp_path / "gauss.pth")
    with pytest.raises(UserError, match=r"\+c/-c"):
        load_projection(tmp_path / "gauss.pth", 8, 20)
    torch.save({"a": r.float(), "b": r.float()}, tmp_path / "two.pth")
    with pytest.raises(UserError, match="several"):
        load_projection(tmp_path / "two.pth", 8, 20)
    (tmp_path / "junk.pth").write_text("not a torch file")
    with pytest.raises(UserError, match="Cannot read the projection matrix"):
        load_projection(tmp_path / "junk.pth", 8, 20)
