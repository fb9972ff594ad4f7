"""The batch-norm statistics of GSAT's two backbone passes (gsat.bn_stats)."""
import pytest
import torch
from torch_geometric.data import Batch

from gsat import GIN, GSAT, edge_mask
from gsat.core.config import config_from_dict
from gsat.errors import ConfigError
from gsat.training.engine import Engine, make_loader
from gsat.metrics.prediction import Evaluator

from conftest import ring


def _graphs(n=12):
    gs = [ring(4 + i % 5, seed=i) for i in range(n)]
    for g in gs:
        g.edge_label = (torch.arange(g.edge_index.size(1)) % 3 == 0).long()
    return gs


def _model(bn_stats="recomputed", seed=0):
    torch.manual_seed(seed)
    return GSAT(GIN(3, 1, hidden_channels=8, num_layers=2), bn_stats=bn_stats)


def _bn_input(module, run):
    """The input of the first convolution's batch norm during run()."""
    seen = []
    h = module.convs[0].nn[1].register_forward_pre_hook(lambda m, inp: seen.append(inp[0]))
    try:
        run()
    finally:
        h.remove()
    return seen[0]


def test_config_bn_stats_choices_and_deprecated_spelling():
    assert config_from_dict({}).gsat.bn_stats == "shared"
    assert config_from_dict({"gsat": {"bn_stats": "recomputed"}}).gsat.bn_stats == "recomputed"
    assert config_from_dict({"gsat": {"separate_bn_stats": True}}).gsat.bn_stats == "separate"
    with pytest.raises(ConfigError, match=r"gsat\.bn_stats: expected one of shared, separate, "
                                          r"recomputed, got 'gated'"):
        config_from_dict({"gsat": {"bn_stats": "gated"}})
    with pytest.raises(ConfigError, match=r"gsat\.separate_bn_stats is the deprecated spelling"):
        config_from_dict({"gsat": {"bn_stats": "recomputed", "separate_bn_stats": True}})


def test_model_bn_stats_choices():
    assert GSAT(GIN(3, 1, hidden_channels=8)).gated_stats is None
    assert GSAT(GIN(3, 1, hidden_channels=8), separate_bn_stats=True).bn_stats == "separate"
    with pytest.raises(ValueError, match="unknown bn_stats 'gated'; choose one of: shared"):
        GSAT(GIN(3, 1, hidden_channels=8), bn_stats="gated")
    with pytest.raises(RuntimeError, match="one set of batch-norm statistics per pass"):
        _model("shared").recompute_bn_stats([Batch.from_data_list(_graphs(3))])


def test_recompute_sets_each_pass_to_its_evaluation_time_statistics():
    batch = Batch.from_data_list(_graphs())
    model = _model()
    model.train()(batch)  # training moves the running statistics away from the fresh ones
    model.recompute_bn_stats([batch])
    model.eval()
    bn = model.backbone.convs[0].nn[1]
    # ungated pass, evaluation mode: its batch norm sees exactly the statistics it holds
    x = _bn_input(model.backbone, lambda: model.backbone.get_emb(batch.x, batch.edge_index,
                                                                  batch.batch))
    assert torch.allclose(bn.running_mean, x.mean(0), atol=1e-5)
    assert torch.allclose(bn.running_var, x.var(0), atol=1e-5)
    # gated pass with the evaluation-time attention: the held second set
    att = model.explain(batch)

    def gated():
        with edge_mask(model.backbone, att, batch.edge_index), model._gated():
            model.backbone.get_emb(batch.x, batch.edge_index, batch.batch)
    xg = _bn_input(model.backbone, gated)
    assert torch.allclose(model.gated_stats.running_mean_0, xg.mean(0), atol=1e-5)
    assert torch.allclose(model.gated_stats.running_var_0, xg.var(0), atol=1e-5)
    assert not torch.allclose(xg.mean(0), x.mean(0), atol=1e-3)  # two different passes


def test_recompute_leaves_modes_and_skips_single_node_batches():
    model = _model().train()
    model.extractor.eval()
    one = Batch.from_data_list([ring(1, seed=0)])
    one.edge_index = torch.empty(2, 0, dtype=torch.long)
    model.recompute_bn_stats([one, Batch.from_data_list(_graphs(4))])
    assert model.backbone.training and not model.extractor.training
    assert int(model.backbone.convs[0].nn[1].num_batches_tracked) == 1


def _engine(model, graphs, epochs=3):
    torch.manual_seed(1)
    loader = make_loader(graphs, 4, shuffle=True, seed=3)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    eng = Engine(model, opt, loader, make_loader(graphs[:6], 6),
                 evaluator=Evaluator(model.task), progress=False)
    eng.run(epochs)
    return eng


def test_engine_recomputes_without_changing_training():
    graphs = _graphs()
    shared, recomputed = _model("shared"), _model("recomputed")
    hs = _engine(shared, graphs).history
    hr = _engine(recomputed, graphs).history
    # the statistics are not used in training and re-estimating them draws no random
    # numbers: the same steps, the same weights
    assert [h["train_loss"] for h in hs] == [h["train_loss"] for h in hr]
    for (k, a), b in zip(shared.state_dict().items(), recomputed.state_dict().values()):
        if "running_" not in k and "num_batches" not in k:
            assert torch.equal(a, b), k
    # the statistics after the last epoch are those of the training graphs in stored order
    check = _model("recomputed")
    check.load_state_dict(recomputed.state_dict())
    check.recompute_bn_stats(make_loader(graphs, 4))
    for k, v in check.state_dict().items():
        assert torch.allclose(v.float(), recomputed.state_dict()[k].float()), k
    assert not torch.allclose(shared.backbone.convs[0].nn[1].running_mean,
                              recomputed.backbone.convs[0].nn[1].running_mean)
