import math

import pytest
import torch
from torch import nn

from dgmlib.training import History, TrainingDiverged, evaluate, fit, train_step


class GaussianFit(nn.Module):
    """Fit N(mu, sigma^2) by maximum likelihood: the optimum is the sample mean and std."""

    def __init__(self):
        super().__init__()
        self.mu = nn.Parameter(torch.zeros(2))
        self.log_sigma = nn.Parameter(torch.zeros(2))

    def loss(self, x):
        z = (x - self.mu) / self.log_sigma.exp()
        nll = 0.5 * z.pow(2) + self.log_sigma + 0.5 * math.log(2 * math.pi)
        return {"loss": nll.sum(1).mean(), "mean_abs_z": z.abs().mean()}


def _data(n=4096):
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, 2, generator=g) * torch.tensor([0.5, 2.0]) + torch.tensor([1.0, -3.0])


def test_fit_reaches_the_maximum_likelihood_solution():
    x = _data()
    model = GaussianFit()
    history = fit(model, x, epochs=60, lr=0.05, batch_size=256, seed=0)
    assert torch.allclose(model.mu.detach(), x.mean(0), atol=0.05)
    assert torch.allclose(model.log_sigma.exp().detach(), x.std(0), rtol=0.05)
    # exact minimum of the mean NLL for the fitted Gaussian
    best = (torch.log(x.std(0, unbiased=False)) + 0.5 * math.log(2 * math.pi) + 0.5).sum().item()
    assert history["loss"][-1] == pytest.approx(best, abs=0.02)
    assert history["loss"][0] > history["loss"][-1] + 1.0


def test_history_logs_each_term_val_terms_eval_and_time():
    x = _data()
    calls = []

    def eval_fn(model, epoch):
        calls.append(epoch)
        return {"mu0": model.mu[0]}

    history = fit(GaussianFit(), x[:3000], epochs=5, val_data=x[3000:], eval_fn=eval_fn, eval_every=2)
    assert len(history) == 5
    assert history.keys()[:4] == ["loss", "mean_abs_z", "val_loss", "val_mean_abs_z"]
    assert set(history.keys()) == {"loss", "mean_abs_z", "val_loss", "val_mean_abs_z", "mu0", "time"}
    assert history.epochs("loss") == [1, 2, 3, 4, 5]
    assert calls == [2, 4, 5] and history.epochs("mu0") == [2, 4, 5]
    assert all(t > 0 for t in history["time"])
    assert isinstance(history["mu0"][0], float)


def test_epoch_mean_equals_mean_of_batch_losses():
    x = _data(1000)
    model = GaussianFit()
    seen = []

    def loss_fn(m, batch):
        out = m.loss(batch)
        seen.append(out["loss"].item())
        return out

    history = fit(model, x, epochs=1, batch_size=100, loss_fn=loss_fn, optimizer=torch.optim.SGD(model.parameters(), lr=0.0))
    assert history["loss"][0] == pytest.approx(sum(seen) / len(seen))


def test_evaluate_weights_batches_by_size():
    x = _data(1000)
    model = GaussianFit()
    full = model.loss(x)["loss"].item()
    assert evaluate(model, x, batch_size=300)["loss"] == pytest.approx(full, rel=1e-5)


def test_tuple_data_passes_first_element_to_loss_and_whole_batch_to_loss_fn():
    x = _data(512)
    y = torch.arange(512)
    fit(GaussianFit(), (x, y), epochs=1)
    got = []
    fit(GaussianFit(), (x, y), epochs=1, batch_size=512, shuffle=False,
        loss_fn=lambda m, b: got.append(b) or m.loss(b[0]))
    assert torch.equal(got[0][1], y)


def test_dataloader_and_dataset_inputs():
    x = _data(512)
    ds = torch.utils.data.TensorDataset(x)
    h1 = fit(GaussianFit(), ds, epochs=2, batch_size=64)
    h2 = fit(GaussianFit(), torch.utils.data.DataLoader(ds, batch_size=64), epochs=2)
    assert len(h1) == len(h2) == 2


def test_nan_loss_stops_with_epoch_step_and_value():
    class Exploding(GaussianFit):
        def loss(self, x):
            out = super().loss(x)
            self.calls = getattr(self, "calls", 0) + 1
            if self.calls == 7:  # epoch 2, step 3 with 4 batches per epoch
                out["loss"] = out["loss"] * float("nan")
            return out

    with pytest.raises(TrainingDiverged, match=r"loss = nan at epoch 2, step 3 \(global step 7\)"):
        fit(Exploding(), _data(512), epochs=3, batch_size=128)


def test_inf_in_a_logged_term_is_caught_too():
    class InfTerm(GaussianFit):
        def loss(self, x):
            return {**super().loss(x), "ratio": torch.tensor(float("inf"))}

    with pytest.raises(TrainingDiverged, match=r"ratio = inf at epoch 1, step 1"):
        fit(InfTerm(), _data(256), epochs=1)


def test_run_epochs_runs_a_custom_update_with_the_same_log_and_guard():
    from dgmlib.training import run_epochs

    x = _data(512)
    model = GaussianFit()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)

    def update(batch):
        opt.zero_grad()
        loss = model.loss(batch)["loss"]
        loss.backward()
        opt.step()
        return {"loss": loss.detach(), "mu0": model.mu[0].detach()}

    history = run_epochs(model, x, update, epochs=20, optimizers=[opt])
    assert history["loss"][-1] < history["loss"][0]
    assert abs(history["mu0"][-1] - 1.0) < 0.1
    with pytest.raises(TrainingDiverged, match=r"bad = nan at epoch 1, step 1"):
        run_epochs(model, x, lambda b: {"bad": float("nan")}, epochs=1)
    with pytest.raises(TypeError, match="the update must return a non-empty dict"):
        run_epochs(model, x, lambda b: None, epochs=1)


class _TwoPlayers(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1))

    def d_loss(self, x):
        return {"loss": self.w.sum()}

    def g_loss(self, x):
        return {"loss": -self.w.sum()}


def test_fit_refuses_an_adversarial_model_and_says_what_to_use():
    with pytest.raises(TypeError, match=r"_TwoPlayers is an adversarial model.*dgmlib\.gan\.train_gan"):
        fit(_TwoPlayers(), _data(64), epochs=1)
    with pytest.raises(TypeError, match="adversarial model"):
        train_step(_TwoPlayers(), torch.optim.SGD(_TwoPlayers().parameters(), lr=0.1))


def test_fit_refuses_a_loss_without_a_leading_loss_key():
    class OldStyle(GaussianFit):
        def loss(self, x):
            out = super().loss(x)
            return {"nll": out["loss"], "mean_abs_z": out["mean_abs_z"]}

    with pytest.raises(ValueError, match=r"OldStyle\.loss\(x\) must return a dict whose first key is 'loss'.*\['nll', 'mean_abs_z'\]"):
        fit(OldStyle(), _data(64), epochs=1)
    with pytest.raises(ValueError, match=r"loss_fn\(model, batch\) must return a dict whose first key is 'loss'"):
        fit(GaussianFit(), _data(64), epochs=1, loss_fn=lambda m, b: {"kl": m.loss(b)["loss"]})
    with pytest.raises(TypeError, match="must return a dict"):
        fit(GaussianFit(), _data(64), epochs=1, loss_fn=lambda m, b: 3.0)
    # a bare scalar tensor from loss_fn is the loss itself
    history = fit(GaussianFit(), _data(64), epochs=1, loss_fn=lambda m, b: m.loss(b)["loss"])
    assert history.keys() == ["loss", "time"]


def test_checkpoint_resume_continues_where_it_stopped(tmp_path):
    x = _data(1024)
    ckpt = tmp_path / "run.pt"
    torch.manual_seed(1)
    straight = GaussianFit()
    h_straight = fit(straight, x, epochs=4, lr=0.05, seed=3)

    torch.manual_seed(1)
    first = GaussianFit()
    fit(first, x, epochs=2, lr=0.05, seed=3, checkpoint=ckpt)
    assert ckpt.exists()
    resumed = GaussianFit()  # a fresh kernel: new model and optimizer
    h_resumed = fit(resumed, x, epochs=4, lr=0.05, seed=3, checkpoint=ckpt, resume=True)
    assert h_resumed.epochs("loss") == [1, 2, 3, 4]
    assert torch.allclose(resumed.mu, straight.mu, atol=1e-6)  # identical trajectory
    assert h_resumed["loss"] == pytest.approx(h_straight["loss"], rel=1e-6)


def test_batches_move_to_the_model_device():
    devices = []

    class Probe(GaussianFit):
        def loss(self, x):
            devices.append(x.device)
            return super().loss(x)

    model = Probe().to(torch.float64)
    fit(model, _data(256), epochs=1, loss_fn=lambda m, b: m.loss(b.double()))
    assert devices and all(d == model.mu.device for d in devices)


def test_bad_arguments_are_explained():
    x = _data(64)
    with pytest.raises(TypeError, match="has no loss\\(x\\) method"):
        fit(nn.Linear(2, 2), x, epochs=1)
    with pytest.raises(ValueError, match="epochs must be an int >= 0, got -1"):
        fit(GaussianFit(), x, epochs=-1)
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        fit(GaussianFit(), x, epochs=1, batch_size=0)
    with pytest.raises(ValueError, match="resume=True needs checkpoint="):
        fit(GaussianFit(), x, epochs=1, resume=True)
    with pytest.raises(ValueError, match="must have the same, non-zero length"):
        fit(GaussianFit(), (x, torch.arange(3)), epochs=1)
    with pytest.raises(TypeError, match="the 'loss' term must be a scalar"):
        fit(GaussianFit(), x, epochs=1, loss_fn=lambda m, b: {"loss": b.sum(1)})
    with pytest.raises(TypeError, match="data must be a tensor, a tuple of tensors or a DataLoader"):
        fit(GaussianFit(), 3, epochs=1)


def test_history_reports_unknown_keys():
    h = History([{"epoch": 1, "loss": 2.0}])
    with pytest.raises(KeyError, match=r"'elbo' was not logged; logged keys: \['loss'\]"):
        h["elbo"]
    assert h.last() == {"epoch": 1, "loss": 2.0}
    assert "loss=2" in repr(h)


def test_progress_bar_is_quiet_under_test(capsys):
    fit(GaussianFit(), _data(256), epochs=1)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_progress_bar_shows_when_asked(capsys):
    fit(GaussianFit(), _data(256), epochs=2, batch_size=64, progress=True)
    err = capsys.readouterr().err
    assert "8/8" in err  # 2 epochs x 4 steps


def test_train_step_is_one_adam_step_on_the_first_term():
    torch.manual_seed(0)
    model = GaussianFit()
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    x = _data(64)
    terms = train_step(model, opt)(x)
    assert set(terms) == {"loss", "mean_abs_z"}
    # Adam's first step moves every parameter by lr * sign(gradient) (m_hat / sqrt(v_hat) = g / |g|)
    reference = GaussianFit()
    reference.loss(x)["loss"].backward()
    assert torch.allclose(model.mu.detach(), -0.1 * reference.mu.grad.sign(), atol=1e-6)
    assert torch.allclose(model.log_sigma.detach(), -0.1 * reference.log_sigma.grad.sign(), atol=1e-6)


def test_train_step_refuses_a_non_finite_objective_before_updating():
    class Exploding(GaussianFit):
        def loss(self, x):
            return {"loss": self.mu.sum() * float("nan")}

    model = Exploding()
    step = train_step(model, torch.optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(TrainingDiverged, match=r"training diverged: loss = nan; lower the learning rate") as info:
        step(_data(8))
    assert info.value.term == "loss" and math.isnan(info.value.value)
    assert torch.equal(model.mu.detach(), torch.zeros(2))  # no update was applied


def test_train_step_explains_bad_arguments():
    model = GaussianFit()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(TypeError, match="optimizer must be a torch.optim.Optimizer, got str"):
        train_step(model, "adam")
    with pytest.raises(TypeError, match="compile must be True or False, got 'yes'"):
        train_step(model, opt, compile="yes")
    with pytest.raises(ValueError, match="grad_clip must be a positive number, got 0"):
        train_step(model, opt, grad_clip=0)
    with pytest.raises(TypeError, match="Linear has no loss"):
        train_step(nn.Linear(2, 2), opt)


@pytest.mark.slow
def test_compiled_training_follows_the_eager_trajectory():
    """compile=True: the same Adam trajectory as eager (to rounding) on a small flow, batches of two sizes."""
    from dgmlib.data import toy2d
    from dgmlib.flows import AffineCoupling, Flow, StandardNormal, alternating_mask

    def make():
        torch.manual_seed(0)
        return Flow(StandardNormal(2), [AffineCoupling(alternating_mask(2, i % 2), (16, 16)) for i in range(4)])

    x = toy2d("moons", 300, seed=0)  # batch 128: two full batches and a last one of 44
    histories = {}
    for compiled in (False, True):
        torch._dynamo.reset()
        model = make()
        histories[compiled] = fit(model, x, epochs=3, batch_size=128, lr=1e-2, seed=0, compile=compiled)
        histories[compiled].params = torch.cat([p.detach().flatten() for p in model.parameters()])
    eager, compiled = histories[False], histories[True]
    assert eager["loss"][-1] < eager["loss"][0] - 0.2  # it trains
    assert compiled["loss"] == pytest.approx(eager["loss"], abs=1e-4)
    assert torch.allclose(compiled.params, eager.params, atol=1e-4)
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] >= 2  # the loss (x2 shapes) and the update


def test_run_steps_logs_one_record_per_full_batch_step_and_guards_nan():
    from dgmlib.training import run_steps

    model = GaussianFit()
    x = _data(256)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)

    def update():
        loss = model.loss(x)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"loss": loss.detach()}

    history = run_steps(model, update, steps=5, optimizers=[opt])
    assert history.epochs("loss") == [1, 2, 3, 4, 5] and history["loss"][-1] < history["loss"][0]
    with pytest.raises(TrainingDiverged, match=r"loss = nan at epoch 1, step 1"):
        run_steps(model, lambda: {"loss": float("nan")}, steps=2)
    with pytest.raises(ValueError, match="steps must be a positive int, got 0"):
        run_steps(model, update, steps=0)


def test_linear_decay_reaches_zero_at_the_end_of_the_run():
    from dgmlib.training.schedule import linear_decay

    opts = [torch.optim.SGD(GaussianFit().parameters(), lr=0.1), torch.optim.SGD(GaussianFit().parameters(), lr=0.3)]
    seen = []
    for t in range(5):
        linear_decay(opts, (0.1, 0.3), t, 4)
        seen += [o.param_groups[0]["lr"] for o in opts]
    assert seen == pytest.approx([0.1, 0.3, 0.075, 0.225, 0.05, 0.15, 0.025, 0.075, 0.0, 0.0])
