"""Reuse under the same stamp: the one comparison (stamp_differences) and the pieces kept
beside their stamps (save_piece / load_piece)."""
import json
import logging

import torch

from gsat.runs.store import discard_piece, load_piece, save_piece, stamp_differences, stamp_id


def test_differences_name_dotted_keys_with_both_values():
    assert stamp_differences({"train": {"lr": 0.001, "epochs": 5}, "model": {"h": 2}},
                             {"train": {"lr": 0.01, "epochs": 5}, "model": {"h": 2}},
                             saved_name="checkpoint") == \
        ["train.lr (checkpoint 0.001, now 0.01)"]


def test_a_key_the_saved_stamp_lacks_counts_as_its_default():
    saved = {"train": {"lr": 0.001}}
    now = {"train": {"lr": 0.001, "keep_every": None}}
    assert stamp_differences(saved, now, {"train": {"keep_every": None}}) == []
    # without a default the missing key is a difference, and so is another value
    assert stamp_differences(saved, now) == \
        ["train.keep_every (saved '<absent>', now None)"]
    assert stamp_differences(saved, {"train": {"lr": 0.001, "keep_every": 5}},
                             {"train": {"keep_every": None}}) == \
        ["train.keep_every (saved None, now 5)"]


def test_stamps_from_json_equal_those_from_python():
    stamp = {"grid": [{"lr": 0.01}], "nan": float("nan"), "t": (1, 2)}
    assert stamp_id(json.loads(json.dumps({"grid": [{"lr": 0.01}], "nan": None,
                                           "t": [1, 2]}))) == stamp_id(stamp)
    assert stamp_differences(json.loads(json.dumps({"grid": [{"lr": 0.01}], "nan": None,
                                                     "t": [1, 2]})), stamp) == []
    assert stamp_differences({"t": [1, 3]}, {"t": (1, 2)}) == ["t (saved [1, 3], now (1, 2))"]


def test_json_piece_is_reused_only_under_its_stamp(tmp_path, caplog):
    path = tmp_path / "tuning-x.json"
    save_piece(path, {"piece": 1, "digest": "a"}, [{"trial": 0}])
    assert load_piece(path, {"piece": 1, "digest": "a"}) == [{"trial": 0}]
    with caplog.at_level(logging.INFO, logger="gsat.runs.store"):
        assert load_piece(path, {"piece": 1, "digest": "b"}) is None
    assert "digest (saved 'a', now 'b')" in caplog.text
    discard_piece(path)
    assert not path.exists() and load_piece(path, {"piece": 1}) is None
    discard_piece(path)  # nothing to remove is fine


def test_checkpoint_piece_and_damaged_files(tmp_path, caplog):
    path = tmp_path / "fitted-x.pt"
    save_piece(path, {"k": [1, 2]}, {"w": torch.ones(3)})
    got = load_piece(path, {"k": [1, 2]})
    assert torch.equal(got["w"], torch.ones(3))
    assert load_piece(path, {"k": [1, 3]}) is None
    path.write_bytes(b"\x80garbage")
    bad = tmp_path / "t.json"
    bad.write_text("{not json")
    with caplog.at_level(logging.WARNING, logger="gsat.runs.store"):
        assert load_piece(path, {"k": [1, 2]}) is None
        assert load_piece(bad, {}) is None
    assert caplog.text.count("is unreadable") == 2
