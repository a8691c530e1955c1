"""Train a Flax MLP surrogate for a simulator; config via ml_collections, flags via absl.

    python train_mlp.py --config=configs/default.py --workdir=$SCRATCH/surrogate
"""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import orbax.checkpoint as ocp
import wandb
from absl import app, flags, logging
from flax import linen as nn
from flax.training import train_state
from ml_collections import config_flags

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "Where checkpoints go.")
config_flags.DEFINE_config_file("config", None, "Training configuration.", lock_config=True)


class MLP(nn.Module):
    features: tuple = (256, 256, 256)
    out: int = 4

    @nn.compact
    def __call__(self, x):
        for f in self.features:
            x = nn.gelu(nn.Dense(f)(x))
        return nn.Dense(self.out)(x)


@functools.partial(jax.jit, donate_argnums=0)
def train_step(state, x, y):
    def loss_fn(params):
        pred = state.apply_fn({"params": params}, x)
        return jnp.mean((pred - y) ** 2)
    loss, grads = jax.value_and_grad(loss_fn)(state.params)
    return state.apply_gradients(grads=grads), loss


def main(argv):
    del argv
    cfg = FLAGS.config
    data = np.load(cfg.data_path)
    x, y = jnp.asarray(data["x"]), jnp.asarray(data["y"])
    model = MLP(out=y.shape[1])
    params = model.init(jax.random.PRNGKey(cfg.seed), x[:1])["params"]
    schedule = optax.warmup_cosine_decay_schedule(0.0, cfg.lr, 1000, cfg.steps)
    tx = optax.chain(optax.clip_by_global_norm(1.0), optax.adamw(schedule, weight_decay=1e-4))
    state = train_state.TrainState.create(apply_fn=model.apply, params=params, tx=tx)
    ckpt = ocp.CheckpointManager(FLAGS.workdir, options=ocp.CheckpointManagerOptions(max_to_keep=3))
    run = wandb.init(project="surrogate", config=cfg.to_dict(), mode=cfg.get("wandb_mode", "offline"))
    rng = np.random.default_rng(cfg.seed)
    for step in range(cfg.steps):
        idx = rng.integers(0, x.shape[0], cfg.batch_size)
        state, loss = train_step(state, x[idx], y[idx])
        if step % 500 == 0:
            logging.info("step %d loss %.4e on %s", step, loss, jax.devices()[0].platform)
            run.log({"loss": float(loss)}, step=step)
        if step % 5000 == 0:
            ckpt.save(step, args=ocp.args.StandardSave(state))
    ckpt.wait_until_finished()
    run.finish()


if __name__ == "__main__":
    flags.mark_flags_as_required(["config", "workdir"])
    app.run(main)
