#!/usr/bin/env python3
"""Reference robot server for the Perpetua robot protocol, version 1 (docs/protocol.md).

Python 3 standard library + numpy. To drive your robot, fill in the hooks of
`Driver` (reset / observe / act, and hold / close); everything else is protocol.
As shipped, `Driver` is a fake robot: a point moving in 2-D toward a goal,
rendered into a 64x64 image, so the server can be tested without hardware.

    robot_server.py --listen tcp://127.0.0.1:5556 [--token T] [--control-hz 10]
    rl-collect --env tcp://127.0.0.1:5556 --policy random --episodes 5 --out data

Prints the bound address on stdout once listening (port 0 picks a free one).
One session at a time; others wait in the listen queue. Loopback only
unless --token is given.
"""
import argparse, hmac, ipaddress, json, os, socket, struct, sys, time
import numpy as np

MAGIC, VERSION = b"PRBT", 1
(HELLO, WELCOME, RESET, RESET_RESULT, STEP, STEP_RESULT,
 HOLD, CLOSE, ERROR, PING, PONG) = range(1, 12)
HEADER = struct.Struct("<4sHHII")  # magic, version, type, JSON length, binary length
MAX_FRAME, MAX_JSON = 64 << 20, 1 << 20
DTYPES = {"uint8": np.dtype("u1"), "float32": np.dtype("<f4")}


class Driver:
    """The robot. Replace the bodies below with calls to your robot's driver."""
    observations = [  # what observe() returns, declared in the WELCOME
        {"key": "image", "dtype": "uint8", "shape": [64, 64, 3], "low": 0, "high": 255},
        {"key": "proprio", "dtype": "float32", "shape": [2], "low": None, "high": None}]
    action_low, action_high, action_names = [-1.0, -1.0], [1.0, 1.0], ["dx", "dy"]
    max_episode_steps = 30

    def __init__(self, control_hz=0.0, interrupt_every=0):
        self.control_hz = control_hz            # your controller's rate (0: as fast as asked)
        self.interrupt_every = interrupt_every  # fake only: every Nth episode a "person" steps in
        self.episodes = 0

    # ---- HOOK: reset --------------------------------------------------------
    def reset(self, seed, options):
        """Bring the robot to a start state (seeded); return an info dict."""
        rng = np.random.default_rng(seed)
        self.pos, self.goal = rng.uniform(-0.8, 0.8, 2), rng.uniform(-0.8, 0.8, 2)
        self.episodes += 1
        self.steps = 0
        return {"goal": self.goal.tolist()}

    # ---- HOOK: observe ------------------------------------------------------
    def observe(self):
        """Capture the observation now: key -> array of the declared dtype and shape."""
        image = np.full((64, 64, 3), 40, np.uint8)
        for (x, y), color in ((self.goal, (0, 200, 0)), (self.pos, (230, 40, 40))):
            col, row = int((x + 1) * 31.5), int((1 - y) * 31.5)
            image[max(row - 2, 0):row + 3, max(col - 2, 0):col + 3] = color
        return {"image": image, "proprio": self.pos.astype(np.float32)}

    # ---- HOOK: act ----------------------------------------------------------
    def act(self, action):
        """Apply one action (already within bounds). Return (applied action, reward,
        terminated, truncated, info); info {"interrupted": True} reports an e-stop."""
        self.pos = np.clip(self.pos + 0.1 * action, -1.0, 1.0)
        self.steps += 1
        distance = float(np.linalg.norm(self.pos - self.goal))
        success = distance < 0.1
        interrupted = bool(self.interrupt_every and self.episodes % self.interrupt_every == 0
                           and self.steps == 3)
        return action, -distance, success, False, {"success": success, "interrupted": interrupted}

    def hold(self):
        """Stop moving and hold position (the client's watchdog asks, or it left)."""

    def close(self):
        self.hold()


class ProtocolError(Exception):
    def __init__(self, code, message, fatal=True):
        super().__init__(message)
        self.code, self.fatal = code, fatal


def recv_exact(sock, n):
    buf = bytearray(n)
    view, got = memoryview(buf), 0
    while got < n:
        k = sock.recv_into(view[got:])
        if k == 0:
            raise EOFError("connection closed by the client")
        got += k
    return bytes(buf)


def read_frame(sock):
    magic, version, mtype, jlen, blen = HEADER.unpack(recv_exact(sock, HEADER.size))
    if magic != MAGIC:
        raise ProtocolError("bad_request", "bad magic: not a Perpetua robot protocol client")
    if version != VERSION:
        raise ProtocolError("version", f"protocol version mismatch: the peer speaks version "
                                       f"{version}, this server speaks version {VERSION}")
    if not 2 <= jlen <= MAX_JSON or jlen + blen > MAX_FRAME:
        raise ProtocolError("bad_request", f"oversized or empty frame ({jlen} + {blen} bytes)")
    try:
        meta = json.loads(recv_exact(sock, jlen))
        assert isinstance(meta, dict)
    except (ValueError, RecursionError, AssertionError):
        raise ProtocolError("bad_request", "the JSON part is not a JSON object")
    blob, tensors, offset = recv_exact(sock, blen), {}, 0
    try:
        for t in meta.pop("tensors", []):
            dtype, shape = DTYPES[t["dtype"]], [int(d) for d in t["shape"]]
            count = int(np.prod(shape, dtype=np.int64))
            assert len(shape) <= 8 and min(shape, default=0) >= 0 and offset + count * dtype.itemsize <= blen
            tensors[str(t["name"])] = np.frombuffer(blob, dtype, count, offset).reshape(shape)
            offset += count * dtype.itemsize
    except (KeyError, TypeError, ValueError, AssertionError, AttributeError):
        raise ProtocolError("bad_request", "bad 'tensors' list")
    if offset != blen:
        raise ProtocolError("bad_request", "the tensors do not fill the binary part")
    return mtype, meta, tensors


def write_frame(sock, mtype, meta, tensors=()):
    meta = dict(meta)
    arrays = [(name, np.ascontiguousarray(a, DTYPES[str(np.asarray(a).dtype)])) for name, a in tensors]
    if arrays:
        meta["tensors"] = [{"name": n, "dtype": str(a.dtype), "shape": list(a.shape)} for n, a in arrays]
    text = json.dumps(meta, separators=(",", ":"), allow_nan=False).encode()
    body = b"".join(a.tobytes() for _, a in arrays)
    sock.sendall(HEADER.pack(MAGIC, VERSION, mtype, len(text), len(body)) + text + body)


def observation_tensors(driver):
    observation = driver.observe()
    return [("observation/" + o["key"], np.asarray(observation[o["key"]], o["dtype"]))
            for o in driver.observations]


def serve_session(conn, driver, token):
    mtype, meta, _ = read_frame(conn)
    if mtype != HELLO:
        raise ProtocolError("bad_request", "the first message must be hello")
    if token and not hmac.compare_digest(str(meta.get("token", "")).encode(), token.encode()):
        raise ProtocolError("auth", "wrong or missing token")
    write_frame(conn, WELCOME, {
        "server": "perpetua robot_server.py", "name": "toy-point", "observations": driver.observations,
        "action": {"low": driver.action_low, "high": driver.action_high, "names": driver.action_names},
        "control_hz": driver.control_hz, "max_episode_steps": driver.max_episode_steps, "env_args": {}})
    low, high = np.array(driver.action_low, np.float32), np.array(driver.action_high, np.float32)
    episode_open, steps = False, 0
    while True:
        mtype, meta, tensors = read_frame(conn)
        try:
            if mtype == RESET:
                seed = meta.get("seed")
                if not isinstance(seed, int) or seed < 0:
                    raise ProtocolError("bad_request", "'seed' is not a non-negative integer", False)
                info = driver.reset(seed, meta.get("options") or {})
                t_obs, obs = time.time(), observation_tensors(driver)
                write_frame(conn, RESET_RESULT, {"info": info, "t_observation": t_obs}, obs)
                episode_open, steps = True, 0
            elif mtype == STEP:
                if not episode_open:
                    raise ProtocolError("no_episode", "step without an open episode: reset first", False)
                action = tensors.get("action")
                if (action is None or action.dtype != np.float32 or action.shape != low.shape
                        or not np.all(np.isfinite(action))):
                    raise ProtocolError("bad_action", f"'action' must be {low.size} finite float32", False)
                t_action = time.time()
                applied, reward, terminated, truncated, info = driver.act(np.clip(action, low, high))
                t_obs, obs = time.time(), observation_tensors(driver)
                steps += 1
                interrupted = bool(info.pop("interrupted", False))
                truncated = truncated or interrupted or steps >= driver.max_episode_steps
                write_frame(conn, STEP_RESULT, {
                    "reward": float(reward), "terminated": bool(terminated), "truncated": bool(truncated),
                    "interrupted": interrupted, "info": info, "t_observation": t_obs, "t_action": t_action},
                    obs + [("applied_action", np.asarray(applied, np.float32))])
                episode_open = not (terminated or truncated)
            elif mtype == HOLD:
                driver.hold()
            elif mtype == PING:
                write_frame(conn, PONG, {"t_server": time.time()})
            elif mtype == CLOSE:
                return
            else:
                raise ProtocolError("bad_request", f"a client does not send message type {mtype}")
        except ProtocolError as e:
            if e.fatal:
                raise
            write_frame(conn, ERROR, {"code": e.code, "message": str(e), "fatal": False})


def listen(address, token):
    if address.startswith("unix://"):
        path = address[len("unix://"):]
        if os.path.exists(path):
            os.unlink(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(path)
        bound = address
    else:
        host, _, port = address[len("tcp://"):].rpartition(":")
        host = host.strip("[]")
        if not token and not (host == "localhost" or ipaddress.ip_address(host).is_loopback):
            sys.exit(f"robot_server.py: error: --listen {address} is not loopback: give --token")
        sock = socket.create_server((host, int(port)))
        bound = f"tcp://{host}:{sock.getsockname()[1]}"
    sock.listen(4)
    return sock, bound


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--listen", default="tcp://127.0.0.1:5556", help="tcp://HOST:PORT or unix:///PATH")
    parser.add_argument("--token", default=os.environ.get("PERPETUA_ROBOT_TOKEN", ""), help="shared secret")
    parser.add_argument("--control-hz", type=float, default=0.0, help="declared control rate")
    parser.add_argument("--interrupt-every", type=int, default=0, help="fake robot: interrupt every Nth episode")
    args = parser.parse_args()
    driver = Driver(args.control_hz, args.interrupt_every)
    sock, bound = listen(args.listen, args.token)
    print(bound, flush=True)
    while True:
        conn, _ = sock.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1) if conn.family != socket.AF_UNIX else None
        try:
            serve_session(conn, driver, args.token)
        except ProtocolError as e:
            print(f"robot_server.py: {e.code}: {e}", file=sys.stderr)
            try:
                write_frame(conn, ERROR, {"code": e.code, "message": str(e), "fatal": True})
            except OSError:
                pass
        except (EOFError, OSError) as e:
            print(f"robot_server.py: session ended: {e}", file=sys.stderr)
        except Exception as e:  # a driver failure or a request it could not take: the robot holds
            print(f"robot_server.py: robot_failure: {e!r}", file=sys.stderr)
            try:
                write_frame(conn, ERROR, {"code": "robot_failure", "message": repr(e)[:200], "fatal": True})
            except OSError:
                pass
        finally:
            driver.hold()
            conn.close()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
