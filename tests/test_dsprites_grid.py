"""The convolutional VAEs of lecture 08's dSprites grid and the grid's build / train / score functions."""

import pytest
import torch

from dgmlib import disentanglement as D
from dgmlib.data import DSprites, dsprites
from dgmlib.disentanglement.grid import (Member, build_grid, grid_members, member_of, score_grid, sprite_vae,
                                         train_member)
from dgmlib.disentanglement.grid import _warm_loss
from dgmlib.vae import ConvStackDecoder, ConvStackEncoder


@pytest.mark.parametrize("size", [16, 32, 64])
def test_conv_stack_maps_images_to_codes_and_back_at_every_size(size):
    enc, dec = ConvStackEncoder(6, size=size, width=8, hidden=16), ConvStackDecoder(6, size=size, width=8, hidden=16)
    mu, logvar = enc(torch.rand(3, 1, size, size))
    assert mu.shape == logvar.shape == (3, 6)
    assert dec(mu).shape == (3, 1, size, size)
    assert dec(torch.zeros(2, 5, 6)).shape == (2, 5, 1, size, size)  # leading dimensions kept (IWAE draws)


def test_conv_stack_decoder_is_the_encoders_mirror():
    enc, dec = ConvStackEncoder(4, size=32, width=8), ConvStackDecoder(4, size=32, width=8)
    convs = [m for m in enc.body if isinstance(m, torch.nn.Conv2d)]
    deconvs = [m for m in dec.net if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == \
        [(d.out_channels, d.in_channels) for d in reversed(deconvs)]


def test_conv_stack_refuses_bad_sizes_shapes_and_dtypes():
    with pytest.raises(ValueError, match="size must be divisible by 16"):
        ConvStackEncoder(4, size=40)
    with pytest.raises(ValueError, match="size must be"):
        ConvStackDecoder(4, size=8)
    enc, dec = ConvStackEncoder(4, size=32), ConvStackDecoder(4, size=32)
    with pytest.raises(ValueError, match=r"x must be images of shape \(B, 1, 32, 32\)"):
        enc(torch.rand(2, 1, 28, 28))
    with pytest.raises(TypeError, match="x has dtype torch.float64"):
        enc(torch.rand(2, 1, 32, 32, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"z must have shape \(\.\.\., 4\)"):
        dec(torch.zeros(2, 5))


def test_member_names_round_trip_and_bad_names_are_explained():
    for m in grid_members(betas=(1, 0.5, 16), seeds=(0, 3), tc_betas=(6,)):
        assert "." not in m.name and member_of(m.name) == m
    assert Member("beta-TCVAE", 6.0, 1).name == "beta-TCVAE 6 s1"
    with pytest.raises(ValueError, match="kind in"):
        member_of("VAE 4 s0")
    with pytest.raises(ValueError, match="a beta of 'x'"):
        member_of("beta-VAE x s0")
    with pytest.raises(TypeError, match="name must be a str"):
        member_of(3)


def test_grid_members_is_every_beta_for_every_seed():
    members = grid_members()
    assert len(members) == 12 and len({m.name for m in members}) == 12
    assert sum(m.kind == "beta-TCVAE" for m in members) == 2
    with pytest.raises(ValueError, match="seeds must name at least one seed"):
        grid_members(seeds=())
    with pytest.raises(ValueError, match="tc_betas"):
        grid_members(tc_betas=(-1,))


def test_build_grid_seeds_each_member_and_leaves_the_global_rng_alone():
    state = torch.get_rng_state()
    grid = build_grid(grid_members(betas=(1, 4), seeds=(0, 1), tc_betas=(6,)), latent_dim=4, width=4, hidden=8)
    assert torch.equal(torch.get_rng_state(), state)
    same = [torch.equal(a, b) for a, b in zip(grid["beta-VAE 1 s0"].parameters(), grid["beta-VAE 4 s0"].parameters())]
    other = [torch.equal(a, b) for a, b in zip(grid["beta-VAE 1 s0"].parameters(), grid["beta-VAE 1 s1"].parameters())]
    assert all(same) and not any(other)
    assert grid["beta-VAE 4 s0"].beta == 4.0 and grid["beta-TCVAE 6 s0"].beta == 1.0
    with pytest.raises(ValueError, match="members must be distinct"):
        build_grid([Member("beta-VAE", 1, 0), Member("beta-VAE", 1.0, 0)])
    with pytest.raises(ValueError, match="kind must be one of"):
        build_grid([Member("VAE", 1, 0)])


@pytest.mark.parametrize("kind", ["beta-VAE", "beta-TCVAE"])
def test_the_warm_loss_after_warm_up_is_the_members_objective(kind):
    """Past the warm-up the loss is VAE.loss (beta-VAE) or beta_tcvae_loss (beta-TCVAE), same noise."""
    torch.manual_seed(0)
    model = sprite_vae(4, size=16, beta=3.0 if kind == "beta-VAE" else 1.0, width=4, hidden=8)
    x = torch.bernoulli(torch.full((16, 1, 16, 16), 0.2))
    loss_fn = _warm_loss(Member(kind, 3.0, 0), 100, warmup=2)
    for _ in range(2):
        loss_fn(model, x)  # the warm-up: w = 1/2, then 1
    torch.manual_seed(1)
    ours = loss_fn(model, x)
    torch.manual_seed(1)
    ref = model.loss(x) if kind == "beta-VAE" else D.beta_tcvae_loss(model, x, 3.0, 100)
    assert list(ours) == list(ref)
    for key in ref:
        assert torch.allclose(ours[key], ref[key]), key


def test_the_warm_loss_ramps_the_kl_weight():
    torch.manual_seed(0)
    model = sprite_vae(4, size=16, width=4, hidden=8)
    x = torch.bernoulli(torch.full((8, 1, 16, 16), 0.2))
    loss_fn = _warm_loss(Member("beta-VAE", 2.0, 0), 100, warmup=4)
    torch.manual_seed(1)
    first = loss_fn(model, x)  # step 1: w = 1/4
    assert torch.allclose(first["loss"], first["recon"] + 0.25 * 2.0 * first["kl"])


def test_train_member_learns_and_is_reproducible():
    sprites = dsprites(256, size=16, seed=0)
    runs = []
    for _ in range(2):
        model = build_grid([Member("beta-TCVAE", 4, 0)], latent_dim=4, size=16, width=8, hidden=16)["beta-TCVAE 4 s0"]
        history = train_member(model, sprites.images, Member("beta-TCVAE", 4, 0), steps=120, warmup=8)
        runs.append((history, model))
    (history, model), (_, twin) = runs
    assert {"loss", "recon", "kl", "mi", "tc", "dim_kl"} <= set(history.keys())
    assert history["recon"][-1] < history["recon"][0] - 20  # 30 epochs of 4 steps: the mean image at least
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), twin.parameters()))
    with pytest.raises(ValueError, match="images must hold at least batch_size=64"):
        train_member(model, sprites.images[:10], Member("beta-VAE", 1, 0), steps=1)
    with pytest.raises(ValueError, match="steps must be"):
        train_member(model, sprites.images, Member("beta-VAE", 1, 0), steps=0)


def test_score_grid_gives_every_member_its_scores_on_the_same_images():
    grid = build_grid(grid_members(betas=(1,), seeds=(0,), tc_betas=()), latent_dim=4, size=16, width=4, hidden=8)
    dataset = DSprites(16)
    scores = score_grid(grid, dataset, n_points=300)
    assert list(scores) == ["beta-VAE 1 s0"] and set(scores["beta-VAE 1 s0"]) == {"MIG", "DCI"}
    assert 0 <= scores["beta-VAE 1 s0"]["MIG"] < 0.2  # an untrained encoder: near zero
    again = score_grid(grid, dataset, n_points=300)
    assert again == scores
    six = score_grid(grid, dataset, n_points=300, all_six=True, n_train=20, n_eval=10)
    assert list(six["beta-VAE 1 s0"]) == list(D.METRIC_NAMES)
    with pytest.raises(ValueError, match="n_points must be"):
        score_grid(grid, dataset, n_points=1)


def test_reconstruction_quality_of_a_perfect_and_an_empty_decoder():
    """IoU 1 and centre error 0 when p(x|mu) is the sprite itself; IoU 0 for an all-off reconstruction."""
    from dgmlib.disentanglement.grid import reconstruction_quality

    sprites = dsprites(16, size=16, seed=0)
    model = sprite_vae(2, size=16, width=4, hidden=8)
    images = sprites.images
    model.decode = lambda mu: images  # an oracle decoder for this batch
    model.log_px_given_z = lambda x, mu: torch.zeros(len(x))
    perfect = reconstruction_quality(model, images)
    assert perfect["iou"] == 1.0 and perfect["centre_error"] < 1e-3 and perfect["recon"] == 0.0
    model.decode = lambda mu: torch.full_like(images, 0.01)
    empty = reconstruction_quality(model, images)
    assert empty["iou"] == 0.0 and empty["centre_error"] > 0.5


def test_latent_traversal_moves_one_dimension_per_row():
    from dgmlib.disentanglement.grid import latent_traversal

    model = sprite_vae(3, size=16, width=4, hidden=8)
    x = dsprites(1, size=16, seed=0).images
    seen = []
    model.decode = lambda z: (seen.append(z.clone()), torch.zeros(*z.shape[:-1], 1, 16, 16))[1]
    images, dims = latent_traversal(model, x, values=(-1.0, 0.5), dims=[2, 0])
    z, mu = seen[0], model.encode(x)[0][0]
    assert images.shape == (4, 1, 16, 16) and dims == [2, 0]
    assert torch.equal(z[0, :, 2], torch.tensor([-1.0, 0.5])) and torch.equal(z[1, :, 0], torch.tensor([-1.0, 0.5]))
    assert torch.equal(z[0, :, :2], mu[:2].expand(2, 2)) and torch.equal(z[1, :, 1:], mu[1:].expand(2, 2))
    assert sorted(latent_traversal(model, x)[1]) == [0, 1, 2]
    with pytest.raises(ValueError, match=r"x must be one image of shape \(1, C, S, S\)"):
        latent_traversal(model, dsprites(2, size=16, seed=0).images)
