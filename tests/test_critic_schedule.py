"""WGAN's critic schedule (issue 15): ``loss.critic_schedule`` reproduces the critic/generator alternation of
Arjovsky et al.'s own code (martinarjovsky/WassersteinGAN, main.py), checked against an independent
simulation of that loop; a resume in the middle of a warm-up continues it; without a schedule ``n_critic``
works as before."""

import json
import re

import pytest
import torch
from lightning import Callback

from gan_experiments.config import ConfigError, validate
from gan_experiments.losses import GANLoss, WassersteinLoss
from gan_experiments.losses.objective import CriticSchedule
from gan_experiments.pipeline import build_loss, build_module, train
from tests.helpers import FAST, SMALL_IMAGES, assert_resume_is_exact, compose_train, small_networks

WGAN = ["model=dcgan", "loss=wgan_clip", *small_networks("dcgan")]


def authors_diters(gen_iterations: int, warmup: int = 25, warmup_diters: int = 100, every: int | None = 500,
                   diters: int = 5) -> int:
    """Critic iterations before the next generator iteration in the authors' loop, as a function of the
    generator iterations so far (100 while gen_iterations < 25 or gen_iterations % 500 == 0, else 5)."""
    periodic = every is not None and gen_iterations % every == 0
    return warmup_diters if gen_iterations < warmup or periodic else diters


def authors_generator_batches(epochs: int, batches_per_epoch: int, diters_of, epoch_end_cuts: bool = True) -> list[int]:
    """Global indices of the batches after which the authors' loop steps G. Per epoch: while batches are
    left, Diters = diters_of(gen_iterations); up to Diters critic batches (the epoch's end cuts the critic
    loop short, then G steps anyway); one G step. With ``epoch_end_cuts`` False the batches form one
    stream across epochs (the critic loop carries on into the next epoch)."""
    steps, gen_iterations, seen, critic_iterations = [], 0, 0, 0
    for _ in range(epochs):
        left = batches_per_epoch
        while left:
            critic_iterations += 1
            left -= 1
            seen += 1
            if critic_iterations == diters_of(gen_iterations) or (epoch_end_cuts and not left):
                steps.append(seen - 1)
                gen_iterations += 1
                critic_iterations = 0
    return steps


def g_optimizer_steps(trainer) -> int:
    state = trainer.optimizers[0].state
    return int(next(iter(state.values()))["step"]) if state else 0


class RecordGeneratorSteps(Callback):
    """Writes ``path`` (JSON): the global indices (epoch * batches per epoch + batch_idx) of the batches in
    which G's optimizer stepped, read from the optimizer's own step count (not from the module's counters)."""

    def __init__(self, path: str):
        self.path, self.batches, self.before = path, [], 0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.before = g_optimizer_steps(trainer)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        stepped = g_optimizer_steps(trainer) - self.before
        assert stepped in (0, 1)
        if stepped:
            self.batches.append(trainer.current_epoch * trainer.num_training_batches + batch_idx)

    def on_train_end(self, trainer, pl_module):
        with open(self.path, "w") as f:
            json.dump(self.batches, f)


def record(path="${paths.output_dir}/g_steps.json"):
    """Overrides adding ``RecordGeneratorSteps`` (by default into the run directory)."""
    return ["+callbacks.g_steps._target_=tests.test_critic_schedule.RecordGeneratorSteps",
            f"+callbacks.g_steps.path={path}"]


def schedule(warmup_generator_steps, warmup_n_critic, warmup_every="null", epoch_end=True):
    """A ``loss.critic_schedule`` override with every field given."""
    fields = {"warmup_generator_steps": warmup_generator_steps, "warmup_n_critic": warmup_n_critic,
              "warmup_every": warmup_every, "generator_step_at_epoch_end": str(epoch_end).lower()}
    return "loss.critic_schedule={" + ",".join(f"{k}:{v}" for k, v in fields.items()) + "}"


def test_authors_schedule_is_their_diters_rule(tmp_path):
    """loss=wgan_clip_authors: the critic steps before generator step g equal the authors' Diters for
    every g up to 3,000 (warm-up, the 500th, 1000th, ... and the steps between)."""
    loss = build_loss(compose_train(["loss=wgan_clip_authors"], tmp_path).loss)
    assert [loss.critic_steps_before(g) for g in range(3001)] == [authors_diters(g) for g in range(3001)]
    assert sum(loss.critic_steps_before(g) for g in range(25)) == 2500  # the CPU cost of the warm-up
    typed = GANLoss(WassersteinLoss(), n_critic=5, clip_value=0.01,
                    critic_schedule=CriticSchedule(warmup_generator_steps=25, warmup_n_critic=100, warmup_every=500))
    assert [typed.critic_steps_before(g) for g in range(1001)] == [authors_diters(g) for g in range(1001)]


def test_wgan_defaults_keep_algorithm_1(tmp_path):
    """wgan_clip follows the paper's Algorithm 1 (n_critic = 5 throughout) by default; WGAN-GP's authors
    use a constant 5 too."""
    for name in ("wgan_clip", "wgan_gp"):
        loss = build_loss(compose_train([f"loss={name}"], tmp_path).loss)
        assert loss.critic_schedule is None and [loss.critic_steps_before(g) for g in (0, 24, 25, 500)] == [5] * 4
    authors = compose_train(["loss=wgan_clip_authors"], tmp_path).loss
    plain = compose_train(["loss=wgan_clip"], tmp_path).loss
    assert {k: v for k, v in authors.items() if k != "critic_schedule"} == {k: v for k, v in plain.items()
                                                                            if k != "critic_schedule"}


def test_generator_steps_where_the_authors_loop_steps_it(tmp_path):
    """A shrunk authors' schedule (warm-up 6 critic steps for 2 G steps and at every 5th, else 2), 3 epochs
    of 9 batches: G steps after exactly the batches the authors' loop would, the epoch's end cutting a
    warm-up block short (epochs 1 and 2) as their ``i < len(dataloader)`` does."""
    overrides = [*FAST, *SMALL_IMAGES, *WGAN, "loss.n_critic=2", schedule(2, 6, 5), "trainer.max_epochs=3",
                 "trainer.limit_train_batches=9", *record()]
    train(compose_train(overrides, tmp_path))
    expected = authors_generator_batches(3, 9, lambda g: authors_diters(g, 2, 6, 5, 2))
    assert expected == [5, 8, 10, 12, 14, 17, 19, 21, 23, 25, 26]  # the simulation itself, spelled out
    assert json.loads((tmp_path / "g_steps.json").read_text()) == expected
    checkpoint = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert (checkpoint["critic_steps"], checkpoint["generator_steps"]) == (27, len(expected))


def test_authors_defaults_step_g_after_100_critic_batches(tmp_path):
    """The unshrunk loss=wgan_clip_authors over 2 epochs of 60 batches: the first 100-critic block is cut
    by the first epoch's end (G after batch 59), the next runs to batch 119."""
    overrides = [*FAST, *SMALL_IMAGES, *small_networks("dcgan"), "loss=wgan_clip_authors", "data.batch_size=4",
                 "trainer.max_epochs=2", "trainer.limit_train_batches=60", *record()]
    train(compose_train(overrides, tmp_path))
    expected = authors_generator_batches(2, 60, authors_diters)
    assert expected == [59, 119]
    assert json.loads((tmp_path / "g_steps.json").read_text()) == expected


def test_resume_in_the_middle_of_a_warmup_continues_it(tmp_path):
    """Warm-up of 6 critic steps for 2 G steps, then 2, as one stream of batches (no cut at epochs' ends):
    G steps after batches 5 and 11, then every 2nd. The 2-epoch checkpoint (10 batches) is 4 critic steps
    into the second warm-up block: the resumed run steps G after batch 11 and then every 2nd batch, as
    the straight run does, and ends with the same weights and optimizer states."""
    overrides = [*WGAN, "data.batch_size=16", "trainer.limit_train_batches=5", "metrics=none", "loss.n_critic=2",
                 schedule(2, 6, epoch_end=False)]
    expected = authors_generator_batches(4, 5, lambda g: authors_diters(g, 2, 6, None, 2), epoch_end_cuts=False)
    assert expected == [5, 11, 13, 15, 17, 19]
    straight, resumed = assert_resume_is_exact([*overrides, *record()], tmp_path)
    assert json.loads((tmp_path / "straight" / "g_steps.json").read_text()) == expected
    assert json.loads((tmp_path / "resumed" / "g_steps.json").read_text()) == [b for b in expected if b >= 10]
    half = torch.load(tmp_path / "half" / "checkpoints" / "last.ckpt", weights_only=True)
    assert (half["critic_steps"], half["generator_steps"], half["critic_steps_since_generator_step"]) == (10, 1, 4)
    for checkpoint in (straight, resumed):
        assert (checkpoint["critic_steps"], checkpoint["generator_steps"]) == (20, 6)


def test_constant_n_critic_is_unchanged(tmp_path):
    """No schedule: G steps on every n_critic-th batch counted over the whole run, across epochs' ends
    (n_critic = 3, 3 epochs of 4 batches: after batches 2, 5, 8, 11)."""
    overrides = [*FAST, *SMALL_IMAGES, *WGAN, "loss.n_critic=3", "trainer.max_epochs=3", *record()]
    train(compose_train(overrides, tmp_path))
    assert json.loads((tmp_path / "g_steps.json").read_text()) == [2, 5, 8, 11]


@pytest.mark.parametrize(
    ("override", "named"),
    [
        (schedule(-1, 100, 500), "critic_schedule.warmup_generator_steps=-1"),
        (schedule(25, 0, 500), "critic_schedule.warmup_n_critic=0"),
        (schedule(25, 100, 0), "critic_schedule.warmup_every=0"),
        ("loss.critic_schedule={warmup_generator_steps:25,warmup_n_critic:100,every:500}", "critic_schedule has no field 'every'"),
        ("loss.critic_schedule=100", "loss.critic_schedule=100 is invalid"),
    ],
)
def test_a_bad_schedule_is_refused_by_key(override, named, tmp_path):
    """As train() meets it: validate (types) then build (ranges, in CriticSchedule), both naming the key."""
    cfg = compose_train(["loss=wgan_clip", override], tmp_path)
    with pytest.raises(ConfigError, match=re.escape(named)) as err:
        validate(cfg)
        build_module(cfg)
    assert "loss" in str(err.value)
