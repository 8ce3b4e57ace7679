#!/usr/bin/env python3
"""PyTorch baseline of QT-Opt's default Q-network, update and CEM (bench_qtopt_speed).

The same network (layers, parameter count), the same inline-target update
and the same CEM as lib/qtopt/, written the way a competent PyTorch user
would: inference_mode around targets and acting, Adam, clip_grad_norm_,
in-place Polyak. bench_qtopt_speed runs it between its own C++
measurements so both share the machine's noise; it also runs alone:

  python3 bench/python/qtopt_update.py --mode update --threads 1
  python3 bench/python/qtopt_update.py --mode cem --threads 1

Prints one JSON line. Needs Debian's python3-torch (1.13.1, the version of
the C++ LibTorch): apt-get install -y --no-install-recommends python3-torch
"""
import argparse
import json
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def conv_out(size, kernel, stride):
    return (size + 2 * (kernel // 2) - kernel) // stride + 1


class QNetwork(nn.Module):
    """lib/qtopt/q_network.cpp: encoder convs, action MLP broadcast-added, head convs, FC."""

    def __init__(self, encoder=(16, 32, 32, 32), head=(), hidden=64, size=64, action_dim=6, proprio_dim=2):
        super().__init__()
        self.encoder = nn.ModuleList()
        c, h, w = 3, size, size
        for i, out in enumerate(encoder):
            k = 5 if i == 0 else 3
            self.encoder.append(nn.Conv2d(c, out, k, stride=2, padding=k // 2))
            c, h, w = out, conv_out(h, k, 2), conv_out(w, k, 2)
        self.action_mlp = nn.Sequential(nn.Linear(action_dim + proprio_dim, hidden), nn.ReLU(), nn.Linear(hidden, c))
        self.head_convs = nn.ModuleList()
        for out in head:
            self.head_convs.append(nn.Conv2d(c, out, 3, stride=2, padding=1))
            c, h, w = out, conv_out(h, 3, 2), conv_out(w, 3, 2)
        self.fc = nn.Linear(c * h * w, hidden)
        self.out = nn.Linear(hidden, 1)

    def embed(self, image):  # [B,H,W,3] uint8 -> [B,C,h,w]
        x = image.permute(0, 3, 1, 2).float().div(255.0).sub(0.5)
        for conv in self.encoder:
            x = F.relu(conv(x))
        return x

    def head(self, embedding, proprio, action):  # -> logits [B]
        m = self.action_mlp(torch.cat([action, proprio], 1))
        x = F.relu(embedding + m[:, :, None, None])
        for conv in self.head_convs:
            x = F.relu(conv(x))
        x = F.relu(self.fc(x.flatten(1)))
        return self.out(x).squeeze(1)

    def forward(self, image, proprio, action):
        return self.head(self.embed(image), proprio, action)


def cem_maximize(score, batch, low, high, iterations, samples, elites, min_std, generator):
    """lib/qtopt/cem.cpp: Gaussian CEM in a box, best sample over all rounds."""
    dim = low.numel()
    floor = ((high - low) * min_std).view(1, dim)
    mean = ((low + high) * 0.5).expand(batch, dim)
    std = ((high - low) * 0.5).expand(batch, dim)
    best_action = mean.clone()
    best_score = torch.full((batch,), -math.inf)
    for _ in range(iterations):
        noise = torch.randn((batch, samples, dim), generator=generator)
        actions = torch.min(torch.max(mean.unsqueeze(1) + std.unsqueeze(1) * noise, low), high)
        scores = score(actions)  # [B,N]
        top_scores, top_index = scores.topk(elites, dim=1)
        elite = actions.gather(1, top_index.unsqueeze(-1).expand(batch, elites, dim))
        round_best = top_scores[:, 0]
        improved = round_best > best_score
        best_action = torch.where(improved.unsqueeze(1), elite[:, 0], best_action)
        best_score = torch.where(improved, round_best, best_score)
        mean = elite.mean(1)
        std = torch.max(elite.std(1, unbiased=False), floor) if elites > 1 else floor.expand(batch, dim)
    return best_action


def maximize_q(net, image, proprio, cem, low, high, generator):
    """lib/qtopt/bellman.cpp MaximizeQ: embed each state once, the population through head()."""
    b, n = image.shape[0], cem["samples"]
    embedding = net.embed(image)
    tiled = embedding.unsqueeze(1).expand(b, n, *embedding.shape[1:]).reshape(b * n, *embedding.shape[1:])
    tiled_proprio = proprio.unsqueeze(1).expand(b, n, proprio.shape[1]).reshape(b * n, -1)

    def score(actions):
        return net.head(tiled, tiled_proprio, actions.reshape(b * n, -1)).view(b, n)

    best = cem_maximize(score, b, low, high, cem["iterations"], n, cem["elites"], cem["min_std"], generator)
    return best, embedding


class Learner:
    """lib/qtopt/q_learner.cpp + bellman.cpp ComputeTargets, targets inline (target_workers.count 0)."""

    def __init__(self, args):
        self.online = QNetwork(size=args.size)
        self.target1 = QNetwork(size=args.size)
        self.target2 = QNetwork(size=args.size)
        self.target1.load_state_dict(self.online.state_dict())
        self.target2.load_state_dict(self.online.state_dict())
        self.target1.eval()
        self.target2.eval()
        for p in list(self.target1.parameters()) + list(self.target2.parameters()):
            p.requires_grad_(False)
        self.params = list(self.online.parameters())
        self.t1_params = list(self.target1.parameters())
        self.adam = torch.optim.Adam(self.params, lr=1e-3)
        self.cem = {"iterations": args.cem_iterations, "samples": args.cem_samples, "elites": 6, "min_std": 0.02}
        self.low = torch.full((6,), -1.0)
        self.high = torch.full((6,), 1.0)
        self.gamma, self.tau, self.lag, self.clip = 0.9, 0.01, 100, 10.0
        self.step_count = 0

    @torch.inference_mode()
    def targets(self, batch, generator):
        best, embedding = maximize_q(self.target1, batch["next_image"], batch["next_proprio"], self.cem,
                                     self.low, self.high, generator)
        q1 = torch.sigmoid(self.target1.head(embedding, batch["next_proprio"], best))
        q2 = torch.sigmoid(self.target2(batch["next_image"], batch["next_proprio"], best))
        value = torch.min(q1, q2)
        target = (batch["reward"] + self.gamma * (1.0 - batch["terminated"]) * value).clamp(0.0, 1.0)
        stats = torch.stack([target.mean(), value.mean(), batch["terminated"].mean()]).tolist()
        return target, stats

    def update(self, batch, generator):
        target, _ = self.targets(batch, generator)
        target = target.clone()  # an inference tensor cannot be saved for backward
        self.online.train()
        self.adam.zero_grad(set_to_none=True)
        logits = self.online(batch["image"], batch["proprio"], batch["action"])
        loss = F.binary_cross_entropy_with_logits(logits, target)
        loss.backward()
        grad_norm = torch.stack([p.grad.norm() for p in self.params]).norm()
        q = torch.sigmoid(logits.detach())
        stats = torch.stack([loss.detach(), q.mean(), q.min(), q.max(), grad_norm]).tolist()
        if not (math.isfinite(stats[0]) and math.isfinite(stats[4])):
            raise RuntimeError("diverged")
        torch.nn.utils.clip_grad_norm_(self.params, self.clip)
        self.adam.step()
        with torch.no_grad():
            if not all(bool(torch.isfinite(p).all()) for p in self.params):
                raise RuntimeError("non-finite parameters")
            self.step_count += 1
            for t, p in zip(self.t1_params, self.params):
                t.mul_(1.0 - self.tau).add_(p, alpha=self.tau)
            if self.step_count % self.lag == 0:
                self.target2.load_state_dict(self.target1.state_dict())
        return stats


def synthetic_batches(count, size, batch, seed):
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(count):
        out.append({
            "image": torch.randint(0, 256, (batch, size, size, 3), generator=g, dtype=torch.uint8),
            "next_image": torch.randint(0, 256, (batch, size, size, 3), generator=g, dtype=torch.uint8),
            "proprio": torch.rand((batch, 2), generator=g),
            "next_proprio": torch.rand((batch, 2), generator=g),
            "action": torch.rand((batch, 6), generator=g) * 2 - 1,
            "reward": (torch.rand((batch,), generator=g) < 0.1).float(),
            "terminated": (torch.rand((batch,), generator=g) < 0.05).float(),
        })
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mode", choices=["update", "cem", "params"], default="update")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--steps", type=int, default=30, help="timed update steps")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--reps", type=int, default=300, help="timed CEM selections")
    p.add_argument("--cem-iterations", type=int, default=2)
    p.add_argument("--cem-samples", type=int, default=64)
    p.add_argument("--expect-params", type=int, default=0, help="fail unless the network has this many")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    learner = Learner(args)
    params = sum(p.numel() for p in learner.online.parameters())
    if args.expect_params and params != args.expect_params:
        print(f"qtopt_update.py: the network has {params} parameters, C++ has {args.expect_params}", file=sys.stderr)
        return 1
    result = {"params": params, "threads": torch.get_num_threads(), "torch": torch.__version__}
    g = torch.Generator().manual_seed(args.seed)
    if args.mode == "update":
        batches = synthetic_batches(4, args.size, args.batch, args.seed)
        for i in range(args.warmup):
            learner.update(batches[i % len(batches)], g)
        start = time.perf_counter()
        for i in range(args.steps):
            learner.update(batches[i % len(batches)], g)
        result["steps_per_s"] = args.steps / (time.perf_counter() - start)
    elif args.mode == "cem":
        net = learner.online
        net.eval()
        image = torch.randint(0, 256, (args.size, args.size, 3), generator=g, dtype=torch.uint8).numpy()
        proprio = torch.rand((2,), generator=g).numpy()

        def act():  # what the policy does per control step: numpy observation in, numpy action out
            with torch.inference_mode():
                best, _ = maximize_q(net, torch.from_numpy(image)[None], torch.from_numpy(proprio)[None],
                                     learner.cem, learner.low, learner.high, g)
                return best[0].numpy()

        for _ in range(20):
            act()
        ms = []
        for _ in range(args.reps):
            t0 = time.perf_counter()
            act()
            ms.append((time.perf_counter() - t0) * 1e3)
        ms.sort()
        result["median_ms"] = ms[len(ms) // 2]
        result["p90_ms"] = ms[len(ms) * 9 // 10]
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
