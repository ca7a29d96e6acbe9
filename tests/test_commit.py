"""Banks are committed as a unit: whatever happens during a save, a reader sees the whole new bank, the
whole old one, or a one-line refusal; never a mixture. A save journal is acted on only by the bank's next
writer, and only where it names the bank's own parts."""

import json

import pytest
import torch

from fungi_hb.errors import UserError
from fungi_hb.identity import FeatureIdentity, MemoryIdentity
from fungi_hb.memory.files import BankMeta, BankPaths, bank_transaction, read_bank, write_sidecar
from fungi_hb.storage import transaction
from fungi_hb.storage.atomic import STAGED, remove_leftovers, sibling
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
    with bank_transaction(paths) as staged:
        write_matrix(staged["features"], rows, 4, torch.float32, [torch.full((rows, 4), value)])
        write_matrix(staged["labels"], rows, 3, torch.float32, [torch.full((rows, 3), value)])
        staged["index"].mkdir()
        (staged["index"] / "fungi_index.json").write_text(json.dumps({"value": value, "memory_id": f"id{value}"}))
        return write_sidecar(paths, staged, BankMeta(f"id{value}", IDENTITY, rows, 4, 3))


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
    token = transaction.new_token()  # a second save staged its parts, then died before committing
    write_matrix(sibling(paths.features, STAGED, token), 8, 4, torch.float32, [torch.full((8, 4), 2.0)])
    assert read_bank(paths, "fix", allow_published=False).memory_id == "id1.0" and features_of(paths) == 1.0
    save_bank(paths, 3.0)  # the next writer clears the leftovers
    assert not list(paths.features.parent.glob(".*staged*")) and features_of(paths) == 3.0


@pytest.mark.parametrize("moves_done", [0, 1, 2, 3])
def test_a_kill_during_the_moves_is_refused_by_readers_and_finished_by_the_next_writer(paths, monkeypatch, moves_done):
    save_bank(paths, 1.0)
    real, calls = transaction._replace, []

    def dies_after_some_moves(staged, final):
        if len(calls) == moves_done:
            raise KeyboardInterrupt  # the process is killed here
        calls.append(final)
        real(staged, final)

    monkeypatch.setattr(transaction, "_replace", dies_after_some_moves)
    with pytest.raises(KeyboardInterrupt):
        save_bank(paths, 2.0)
    monkeypatch.setattr(transaction, "_replace", real)
    assert paths.journal.exists()
    with pytest.raises(UserError, match="was being saved when a run stopped.*Rerun the command that saves it"):
        read_bank(paths, "fix", allow_published=False)
    transaction.recover(paths.journal, [*paths.parts().values(), paths.meta])  # what the next writer does first
    meta = read_bank(paths, "fix", allow_published=False)
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
    remove_leftovers(paths.features)
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
    with pytest.raises(ValueError, match=f"holds piece {first.name}, not {second.name}"):
        store.load(second)


def test_a_journal_naming_files_outside_the_bank_is_never_acted_on(paths, tmp_path):
    """A shared bank with a planted journal: reading it moves nothing, and its writer refuses the journal."""
    save_bank(paths, 1.0)
    victim = tmp_path.parent / (tmp_path.name + "_victim")
    (victim / "dir").mkdir(parents=True)
    (victim / "keep.txt").write_text("mine")
    (victim / "dir" / "inside.txt").write_text("mine too")
    planted = [
        {"moves": [[str(victim / "keep.txt"), str(tmp_path / "stolen.txt")]]},  # the old format, absolute paths
        {"format": transaction.JOURNAL_FORMAT, "token": "0123456789ab", "parts": [str(victim / "dir")]},
        {"format": transaction.JOURNAL_FORMAT, "token": "0123456789ab", "parts": [f"../{victim.name}/dir"]},
        {"format": transaction.JOURNAL_FORMAT, "token": "../../x", "parts": ["features.pth"]},
    ]
    for record in planted:
        paths.journal.write_text(json.dumps(record))
        with pytest.raises(UserError, match="was being saved when a run stopped"):
            read_bank(paths, "fix", allow_published=True)
        with pytest.raises(UserError, match="journal .* (is damaged|names .* not a part of what this run writes)"):
            save_bank(paths, 2.0)
        assert (victim / "keep.txt").read_text() == "mine" and (victim / "dir" / "inside.txt").read_text() == "mine too"
        assert not (tmp_path / "stolen.txt").exists() and features_of(paths) == 1.0


def test_a_journal_left_half_written_is_cleared_by_the_next_writer(paths):
    save_bank(paths, 1.0)
    half = sibling(paths.journal, ".tmp-", "deadbeef")  # killed while the journal itself was written
    half.write_text('{"format": ')
    save_bank(paths, 2.0)
    assert not half.exists() and features_of(paths) == 2.0


def test_a_damaged_piece_is_caught_by_its_checksum_and_redone(tmp_path, caplog):
    from fungi_hb.runs.pieces import plan_pieces
    from fungi_hb.runs.store import PieceStore

    store = PieceStore(tmp_path, "bank-0123", {"what": "test"})
    store.create()
    (piece,) = plan_pieces(4, 1, 4)
    store.save(piece, {"features": torch.arange(4000.0).reshape(1000, 4)})
    assert store.reusable(piece)
    data = bytearray(store.path(piece).read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)  # 64 bytes flipped to zero in the middle of the tensor data
    store.path(piece).write_bytes(bytes(data))
    with pytest.raises(ValueError, match="does not match its checksum|cannot be read"):
        store.load(piece)
    assert not store.reusable(piece) and not store.path(piece).exists()
    assert "Redoing a piece" in caplog.text
    store.save(piece, {"features": torch.zeros(3)})  # zeroed tensors saved under the old checksum
    content = torch.load(store.path(piece), weights_only=True)
    content["tensors"]["features"] = torch.ones(3)
    torch.save(content, store.path(piece))
    assert not store.reusable(piece)


def test_a_second_run_on_the_same_outputs_is_refused_until_the_first_ends(tmp_path):
    from contextlib import ExitStack

    from fungi_hb.runs import lock

    target = tmp_path / "features.pth"
    with ExitStack() as first:
        lock.hold(first, {"the memory bank": target})
        with pytest.raises(UserError, match=r"Another run is writing the memory bank \(process \d+ on .*pytest"):
            with ExitStack() as second:
                lock.hold(second, {"the memory bank": target})
    with ExitStack() as third:  # released: taken again
        lock.hold(third, {"the memory bank": target})
    assert not lock.lock_path(target).exists()


def test_the_lock_of_a_killed_run_is_taken_over(tmp_path):
    import subprocess
    import sys

    target = tmp_path / "out.json"
    code = (
        "import fcntl, sys; f = open(sys.argv[1], 'a+'); fcntl.flock(f, fcntl.LOCK_EX); f.write('{}'); f.flush(); "
        "print('locked', flush=True); sys.stdin.read()"
    )
    from fungi_hb.runs import lock

    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(lock.lock_path(target))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "locked"
    with pytest.raises(UserError, match="a process that left no note"):
        lock.Lock(target, "it").acquire()
    holder.kill()
    holder.wait()
    lock.Lock(target, "it").acquire().release()  # the dead process's lock is taken over


def test_a_lock_file_planted_as_a_link_is_refused_and_its_target_untouched(tmp_path):
    from fungi_hb.runs import lock

    target = tmp_path / "precious.txt"
    target.write_text("mine")
    lock.lock_path(tmp_path / "features.pth").symlink_to(target)
    with pytest.raises(UserError, match="must be a plain file"):
        lock.Lock(tmp_path / "features.pth", "the bank").acquire()
    assert target.read_text() == "mine"
