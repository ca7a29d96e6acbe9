"""Banks are committed as a unit: whatever happens during a save, a reader sees the whole new bank, the
whole old one, or a one-line refusal; never a mixture."""

import json

import pytest
import torch

from fungi_hb.errors import UserError
from fungi_hb.identity import FeatureIdentity, MemoryIdentity
from fungi_hb.memory.files import BankMeta, BankPaths, commit_bank, prepare_outputs, read_bank
from fungi_hb.storage import commit
from fungi_hb.storage.matrix_file import write_matrix

IDENTITY = MemoryIdentity(
    FeatureIdentity("embeddings", "vit", "random (seed 0)", 64, 16, (0.229, 0.224, 0.255), 0),
    "voc",
    None,
    1,
    "ids",
    "aug",
    "support",
)


def save_bank(paths: BankPaths, value: float, rows: int = 8) -> BankMeta:
    """A bank whose every feature is ``value`` (so old and new banks are told apart)."""
    prepare_outputs(paths)
    token = commit.new_token()
    staged = {role: commit.staged_path(path, token) for role, path in paths.parts().items()}
    write_matrix(staged["features"], rows, 4, torch.float32, [torch.full((rows, 4), value)])
    write_matrix(staged["labels"], rows, 3, torch.float32, [torch.full((rows, 3), value)])
    staged["index"].mkdir()
    (staged["index"] / "fungi_index.json").write_text(json.dumps({"value": value}))
    meta = BankMeta(f"id{value}", IDENTITY, rows, 4, 3)
    return commit_bank(paths, staged, meta)


@pytest.fixture()
def paths(tmp_path) -> BankPaths:
    return BankPaths(tmp_path / "features.pth", tmp_path / "labels.pth", tmp_path / "index")


def features_of(paths: BankPaths) -> float:
    return float(torch.load(paths.features)[0, 0])


def test_a_committed_bank_reads_back_whole(paths):
    meta = save_bank(paths, 1.0)
    assert read_bank(paths, "fix", allow_published=False).memory_id == meta.memory_id
    assert set(meta.parts) == {"features", "labels", "index"}
    assert not list(paths.features.parent.glob(".*staged*")) and not paths.journal.exists()


def test_a_kill_before_the_journal_leaves_the_old_bank(paths):
    save_bank(paths, 1.0)
    token = commit.new_token()  # a second save staged its parts, then died before committing
    write_matrix(commit.staged_path(paths.features, token), 8, 4, torch.float32, [torch.full((8, 4), 2.0)])
    assert read_bank(paths, "fix", allow_published=False).memory_id == "id1.0" and features_of(paths) == 1.0
    prepare_outputs(paths)  # the next writer clears the leftovers
    assert not list(paths.features.parent.glob(".*staged*"))


@pytest.mark.parametrize("moves_done", [0, 1, 2, 3])
def test_a_kill_during_the_moves_is_finished_by_the_next_reader(paths, monkeypatch, moves_done):
    save_bank(paths, 1.0)
    real, calls = commit._replace, []

    def dies_after_some_moves(staged, final):
        if len(calls) == moves_done:
            raise KeyboardInterrupt  # the process is killed here
        calls.append(final)
        real(staged, final)

    monkeypatch.setattr(commit, "_replace", dies_after_some_moves)
    with pytest.raises(KeyboardInterrupt):
        save_bank(paths, 2.0)
    monkeypatch.setattr(commit, "_replace", real)
    assert paths.journal.exists()
    meta = read_bank(paths, "fix", allow_published=False)  # replays the journal
    assert meta.memory_id == "id2.0" and features_of(paths) == 2.0
    assert float(torch.load(paths.labels)[0, 0]) == 2.0
    assert json.loads((paths.index / "fungi_index.json").read_text())["value"] == 2.0
    assert not paths.journal.exists()


def test_missing_or_foreign_parts_are_refused_in_one_line(paths, tmp_path):
    save_bank(paths, 1.0)
    paths.labels.unlink()
    with pytest.raises(UserError, match=r"its labels .* is missing\)\. rebuild"):
        read_bank(paths, "rebuild", allow_published=True)
    save_bank(paths, 1.0)
    torch.save(torch.zeros(8, 3), paths.labels)  # another file in its place
    with pytest.raises(UserError, match="not the labels this bank was saved with"):
        read_bank(paths, "rebuild", allow_published=True)


def test_a_bank_of_ours_without_its_sidecar_is_not_taken_for_a_published_one(paths):
    save_bank(paths, 1.0)
    paths.meta.unlink()
    with pytest.raises(UserError, match="metadata file features.meta.json is missing"):
        read_bank(paths, "rebuild", allow_published=True)
    (paths.index / "fungi_index.json").unlink()  # no metadata of ours anywhere: the published code's
    assert read_bank(paths, "rebuild", allow_published=True) is None
    with pytest.raises(UserError, match="missing"):
        read_bank(paths, "rebuild", allow_published=False)


@pytest.mark.parametrize("content", ["{not json", '{"format": "fungi-hb memory bank 1"}', "[]"])
def test_a_damaged_sidecar_is_refused(paths, content):
    save_bank(paths, 1.0)
    paths.meta.write_text(content)
    with pytest.raises(UserError, match="features.meta.json is incomplete or damaged"):
        read_bank(paths, "rebuild", allow_published=True)


def test_a_bank_moved_as_a_folder_still_reads(paths, tmp_path):
    save_bank(paths, 1.0)
    moved = tmp_path.parent / (tmp_path.name + "_moved")
    tmp_path.rename(moved)
    meta = read_bank(BankPaths(moved / "features.pth", None, moved / "index"), "fix", allow_published=False)
    assert meta.memory_id == "id1.0"


def test_a_sidecar_whose_part_lacks_its_name_is_refused(paths):
    save_bank(paths, 1.0)
    data = json.loads(paths.meta.read_text())
    del data["parts"]["labels"]["name"]
    paths.meta.write_text(json.dumps(data))
    with pytest.raises(UserError, match="lacks a name or fingerprints"):
        read_bank(paths, "rebuild", allow_published=True)


def test_a_staged_part_killed_while_written_is_removed(paths):
    save_bank(paths, 1.0)
    half = paths.features.with_name(f"..{paths.features.name}.staged-abc123.tmp-42")
    half.write_bytes(b"part of a features file")
    commit.remove_staged(paths.features)
    assert not half.exists() and paths.features.exists()


def test_a_piece_copied_over_another_is_refused(tmp_path):
    from fungi_hb.runs.pieces import plan_pieces
    from fungi_hb.runs.store import PieceStore

    store = PieceStore(tmp_path, "bank-0123", {"what": "test"})
    store.create()
    first, second = plan_pieces(8, 1, 4)
    store.save(first, {"features": torch.zeros(2, 3)})
    store.save(second, {"features": torch.ones(2, 3)})
    assert torch.equal(store.load(second)["features"], torch.ones(2, 3))
    store.path(second).write_bytes(store.path(first).read_bytes())  # same job, wrong place
    with pytest.raises(UserError, match=f"holds piece {first.name}, not {second.name}"):
        store.load(second)
