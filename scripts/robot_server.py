#!/usr/bin/env python3
"""Reference robot server for the Perpetua robot protocol, version 1 (docs/protocol.md).

Python 3 standard library + numpy. To drive your robot, fill in the hooks of
`Driver` (reset / observe / act, and hold / close); everything else is protocol.
As shipped, `Driver` is a fake robot: a point moving in 2-D toward a goal,
rendered into a 64x64 image, so the server can be tested without hardware.

    robot_server.py --listen tcp://127.0.0.1:5556 [--robot.token T] [--control-hz 10]
    rl-collect --env tcp://127.0.0.1:5556 --policy random --episodes 5 --out data

Prints the bound address on stdout once listening (port 0 picks a free one).
One session at a time (another client gets ERROR busy). Loopback only
unless --robot.token is given. The server's safety timers (docs/protocol.md, "The
server's safety behaviour") run in one select loop that never waits on a
client: no step for --watchdog-s holds the robot; no valid HELLO within
--hello-timeout-s, no message for --idle-timeout-s or a frame stalled for
--io-timeout-s closes the session; TCP keepalive notices vanished peers;
frames before the HELLO are limited to 64 KiB; a failed authentication
locks its peer out for --auth-lockout-s, doubled per failure (max 60 s).
Holds are logged on stderr ("robot_server.py: holding: <why>").
"""
import argparse, hmac, ipaddress, json, os, select, socket, stat, struct, sys, time
import numpy as np

MAGIC, VERSION = b"PRBT", 1
(HELLO, WELCOME, RESET, RESET_RESULT, STEP, STEP_RESULT,
 HOLD, CLOSE, ERROR, PING, PONG) = range(1, 12)
HEADER = struct.Struct("<4sHHII")  # magic, version, type, JSON length, binary length
MAX_FRAME, MAX_JSON, PRE_AUTH_FRAME = 64 << 20, 1 << 20, 64 << 10
MAX_LOCKOUT_S, MAX_LOCKOUTS, FORGET_LOCKOUT_S = 60.0, 1024, 600.0
DTYPES = {"uint8": np.dtype("u1"), "float32": np.dtype("<f4")}


class Driver:
    """The robot. Replace the bodies below with calls to your robot's driver."""
    observations = [  # what observe() returns, declared in the WELCOME
        {"key": "image", "dtype": "uint8", "shape": [64, 64, 3], "low": 0, "high": 255},
        {"key": "proprio", "dtype": "float32", "shape": [2], "low": None, "high": None}]
    action_low, action_high, action_names = [-1.0, -1.0], [1.0, 1.0], ["dx", "dy"]
    max_episode_steps = 30
    reset_options = ()  # the RESET option keys reset() understands; others are refused

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
        """Stop moving and hold position: no step within the watchdog time, the client
        asked (HOLD), or the session ended. Idempotent; the next act() resumes."""

    def close(self):
        self.hold()


class ProtocolError(Exception):
    def __init__(self, code, message, fatal=True):
        super().__init__(message)
        self.code, self.fatal = code, fatal


def parse_header(data, max_frame):
    """The (type, J, B) of a 16-byte header, checked before anything is allocated."""
    magic, version, mtype, jlen, blen = HEADER.unpack(data)
    if magic != MAGIC:
        raise ProtocolError("bad_request", "bad magic: not a Perpetua robot protocol client")
    if version != VERSION:
        raise ProtocolError("version", f"protocol version mismatch: the peer speaks version "
                                       f"{version}, this server speaks version {VERSION}")
    if not 2 <= jlen <= min(MAX_JSON, max_frame) or jlen + blen > max_frame:
        raise ProtocolError("bad_request", f"oversized or empty frame ({jlen} + {blen} bytes, limit {max_frame})")
    return mtype, jlen, blen


def parse_body(jlen, blen, body):
    try:
        meta = json.loads(body[:jlen])
        assert isinstance(meta, dict)
    except (ValueError, RecursionError, AssertionError):
        raise ProtocolError("bad_request", "the JSON part is not a JSON object")
    blob, tensors, offset = body[jlen:], {}, 0
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
    return meta, tensors


def write_frame(sock, mtype, meta, tensors=()):
    meta = dict(meta)
    arrays = [(name, np.ascontiguousarray(a, DTYPES[str(np.asarray(a).dtype)])) for name, a in tensors]
    if arrays:
        meta["tensors"] = [{"name": n, "dtype": str(a.dtype), "shape": list(a.shape)} for n, a in arrays]
    text = json.dumps(meta, separators=(",", ":"), allow_nan=False).encode()
    body = b"".join(a.tobytes() for _, a in arrays)
    sock.sendall(HEADER.pack(MAGIC, VERSION, mtype, len(text), len(body)) + text + body)


def refuse(sock, code, message):
    """A fatal ERROR, best effort (the client may be gone)."""
    try:
        write_frame(sock, ERROR, {"code": code, "message": message, "fatal": True})
    except OSError:
        pass


def observation_tensors(driver):
    observation = driver.observe()
    return [("observation/" + o["key"], np.asarray(observation[o["key"]], o["dtype"]))
            for o in driver.observations]


class Session:
    """One client: its socket, the bytes of its next frame, its state and timers."""

    def __init__(self, conn, peer, now):
        self.conn, self.peer, self.buf = conn, peer, bytearray()
        self.greeted, self.episode_open, self.steps = False, False, 0
        self.opened = self.last_message = now
        self.frame_started = None  # monotonic time of the first byte of a partly read frame

    def next_frame(self):
        """(type, meta, tensors) of the first whole frame in the buffer, or None."""
        if len(self.buf) < HEADER.size:
            return None
        mtype, jlen, blen = parse_header(bytes(self.buf[:HEADER.size]), MAX_FRAME if self.greeted else PRE_AUTH_FRAME)
        end = HEADER.size + jlen + blen
        if len(self.buf) < end:
            return None
        body = bytes(self.buf[HEADER.size:end])
        del self.buf[:end]
        self.frame_started = time.monotonic() if self.buf else None
        return (mtype,) + parse_body(jlen, blen, body)


class Server:
    def __init__(self, sock, driver, args):
        self.sock, self.driver, self.args = sock, driver, args
        self.session, self.holding, self.last_motion, self.lockouts = None, True, 0.0, {}
        self.low = np.array(driver.action_low, np.float32)
        self.high = np.array(driver.action_high, np.float32)

    def hold(self, why):
        if self.holding:
            return
        self.holding = True
        try:
            self.driver.hold()
            print(f"robot_server.py: holding: {why}", file=sys.stderr, flush=True)
        except Exception as e:  # a robot that cannot hold: say so loudly, keep serving
            print(f"robot_server.py: the robot could not hold ({why}): {e!r}", file=sys.stderr, flush=True)

    def end_session(self, why):
        print(f"robot_server.py: session ended: {why}", file=sys.stderr, flush=True)
        self.session.conn.close()
        self.session = None
        self.hold(f"session ended ({why})")

    def record_auth(self, peer, ok, now):
        if ok:
            self.lockouts.pop(peer, None)
            return
        if len(self.lockouts) >= MAX_LOCKOUTS and peer not in self.lockouts:
            self.lockouts = {p: v for p, v in self.lockouts.items() if v[1] > now}
            while len(self.lockouts) >= MAX_LOCKOUTS:
                self.lockouts.pop(next(iter(self.lockouts)))
        failures, until = self.lockouts.get(peer, (0, 0.0))
        failures = 1 if now > until + FORGET_LOCKOUT_S else min(failures + 1, 30)
        seconds = min(MAX_LOCKOUT_S, self.args.auth_lockout_s * 2 ** (failures - 1))
        self.lockouts[peer] = (failures, now + seconds)
        print(f"robot_server.py: peer {peer}: {failures} failed authentication(s); refused for {seconds:.2f} s",
              file=sys.stderr, flush=True)

    def run(self):
        args = self.args
        while True:
            timeout = 0.05
            if not self.holding:
                timeout = max(0.0, min(timeout, self.last_motion + args.watchdog_s - time.monotonic()))
            socks = [self.sock] + ([self.session.conn] if self.session else [])
            readable = select.select(socks, [], [], timeout)[0]
            if self.session and self.session.conn in readable:
                self.receive()
            now = time.monotonic()
            if self.session:
                self.check_deadlines(now)
            if not self.holding and now - self.last_motion >= args.watchdog_s:
                self.hold(f"watchdog: no step for {now - self.last_motion:.2f} s")
            if self.sock in readable:
                self.accept(now)

    def accept(self, now):
        try:
            conn, address = self.sock.accept()
        except OSError:
            return
        conn.settimeout(self.args.io_timeout_s)  # bounds every send; reads happen only once select says so
        peer = address[0] if conn.family != socket.AF_UNIX else "local"
        locked = self.lockouts.get(peer, (0, 0.0))[1] - now if self.args.token else 0.0
        if locked > 0:
            refuse(conn, "auth", f"too many failed authentications from this address; try again in {locked:.2f} s")
            conn.close()
        elif self.session:
            refuse(conn, "busy", "another client holds this robot; one session at a time")
            conn.close()
        else:
            if conn.family != socket.AF_UNIX:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, self.args.keepalive_s)
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)
            self.session = Session(conn, peer, now)

    def check_deadlines(self, now):
        s, args = self.session, self.args
        if not s.greeted and now - s.opened > args.hello_timeout_s:
            self.end_session(f"no valid hello within {args.hello_timeout_s:.2f} s")
        elif s.greeted and now - s.last_message > args.idle_timeout_s:
            self.end_session(f"no message for {args.idle_timeout_s:.2f} s")
        elif s.frame_started is not None and now - s.frame_started > args.io_timeout_s:
            self.end_session(f"a frame stalled for {args.io_timeout_s:.2f} s")

    def receive(self):
        s = self.session
        try:
            data = s.conn.recv(1 << 16)
            if not data:
                raise EOFError("connection closed by the client" + (" in the middle of a frame" if s.buf else ""))
            if not s.buf:
                s.frame_started = time.monotonic()
            s.buf += data
            while self.session:
                frame = s.next_frame()
                if frame is None:
                    return
                s.last_message = time.monotonic()
                if not self.handle(*frame):
                    self.end_session("closed by the client")
        except ProtocolError as e:
            print(f"robot_server.py: {e.code}: {e}", file=sys.stderr)
            refuse(s.conn, e.code, str(e))
            self.end_session(str(e))
        except (EOFError, OSError) as e:
            self.end_session(str(e))
        except Exception as e:  # a driver failure or a request it could not take: the robot holds
            print(f"robot_server.py: robot_failure: {e!r}", file=sys.stderr)
            refuse(s.conn, "robot_failure", repr(e)[:200])
            self.end_session("robot_failure")

    def handle(self, mtype, meta, tensors):
        """Answers one message; False when the session ends (CLOSE)."""
        s, driver = self.session, self.driver
        if not s.greeted:
            if mtype != HELLO:
                raise ProtocolError("bad_request", "the first message must be hello")
            if self.args.token:
                ok = hmac.compare_digest(str(meta.get("token", "")).encode(), self.args.token.encode())
                self.record_auth(s.peer, ok, time.monotonic())
                if not ok:
                    raise ProtocolError("auth", "wrong or missing token")
            write_frame(s.conn, WELCOME, {
                "server": "perpetua robot_server.py", "name": "toy-point", "observations": driver.observations,
                "action": {"low": driver.action_low, "high": driver.action_high, "names": driver.action_names},
                "control_hz": driver.control_hz, "max_episode_steps": driver.max_episode_steps, "env_args": {}})
            s.greeted = True
            return True
        try:
            if mtype == RESET:
                seed, options = meta.get("seed"), meta.get("options") or {}
                if not isinstance(seed, int) or seed < 0:
                    raise ProtocolError("bad_request", "'seed' is not a non-negative integer", False)
                if not isinstance(options, dict):
                    raise ProtocolError("bad_request", "'options' is not an object", False)
                for key in options:
                    if key not in driver.reset_options:
                        raise ProtocolError("bad_request", f"unknown reset option '{key}'", False)
                s.episode_open = False
                info = driver.reset(seed, options)
                t_obs, obs = time.time(), observation_tensors(driver)
                self.holding, self.last_motion = False, time.monotonic()
                write_frame(s.conn, RESET_RESULT, {"info": info, "t_observation": t_obs}, obs)
                s.episode_open, s.steps = True, 0
            elif mtype == STEP:
                if not s.episode_open:
                    raise ProtocolError("no_episode", "step without an open episode: reset first", False)
                action = tensors.get("action")
                if (action is None or action.dtype != np.float32 or action.shape != self.low.shape
                        or not np.all(np.isfinite(action))):
                    raise ProtocolError("bad_action", f"'action' must be {self.low.size} finite float32", False)
                t_action = time.time()
                applied, reward, terminated, truncated, info = driver.act(np.clip(action, self.low, self.high))
                t_obs, obs = time.time(), observation_tensors(driver)
                self.holding, self.last_motion = False, time.monotonic()
                s.steps += 1
                interrupted = bool(info.pop("interrupted", False))
                truncated = truncated or interrupted or s.steps >= driver.max_episode_steps
                write_frame(s.conn, STEP_RESULT, {
                    "reward": float(reward), "terminated": bool(terminated), "truncated": bool(truncated),
                    "interrupted": interrupted, "info": info, "t_observation": t_obs, "t_action": t_action},
                    obs + [("applied_action", np.asarray(applied, np.float32))])
                s.episode_open = not (terminated or truncated)
            elif mtype == HOLD:
                self.hold(f"requested ({str(meta.get('reason', ''))[:120]})")
            elif mtype == PING:
                write_frame(s.conn, PONG, {"t_server": time.time()})
            elif mtype == CLOSE:
                return False
            else:
                raise ProtocolError("bad_request", f"a client does not send message type {mtype}")
        except ProtocolError as e:
            if e.fatal:
                raise
            write_frame(s.conn, ERROR, {"code": e.code, "message": str(e), "fatal": False})
        return True


def fail(message):
    """One line on stderr and exit 2 (bad settings), as the rl-* tools do."""
    print(f"robot_server.py: error: {message}", file=sys.stderr)
    sys.exit(2)


def listen(address, token):
    """The listening socket and its address; one line and exit 2 when it cannot be made."""
    if address.startswith("unix://"):
        path = address[len("unix://"):]
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            mode = None
        if mode is not None:
            if not stat.S_ISSOCK(mode):
                fail(f"--listen {address}: {path} exists and is not a socket (not removing it)")
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            probe.settimeout(0.5)
            try:
                probe.connect(path)
                fail(f"--listen {address}: another server listens there")
            except OSError:
                os.unlink(path)  # a dead server's socket
            finally:
                probe.close()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(path)
        except OSError as e:
            fail(f"--listen {address}: {e.strerror}")
        bound = address
    elif address.startswith("tcp://"):
        host, _, port = address[len("tcp://"):].rpartition(":")
        host = host.strip("[]")
        if not host or not port.isdigit() or int(port) > 65535:
            fail(f"--listen {address}: expected tcp://HOST:PORT with a port in 0..65535")
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:  # a host name other than localhost is not trusted as loopback
            loopback = False
        if not token and not loopback:
            fail(f"--listen {address} is not loopback: give --robot.token")
        try:
            sock = socket.create_server((host, int(port)))
        except OSError as e:  # socket.gaierror included: an unknown host name
            fail(f"--listen {address}: {e.strerror or e}")
        bound = f"tcp://{host}:{sock.getsockname()[1]}"
    else:
        fail(f"--listen {address}: expected tcp://HOST:PORT or unix:///PATH")
    sock.listen(4)
    return sock, bound


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--listen", default="tcp://127.0.0.1:5556", help="tcp://HOST:PORT or unix:///PATH")
    parser.add_argument("--robot.token", dest="token", default=os.environ.get("PERPETUA_ROBOT_TOKEN", ""), help="shared secret")
    parser.add_argument("--control-hz", type=float, default=0.0, help="declared control rate")
    parser.add_argument("--interrupt-every", type=int, default=0, help="fake robot: interrupt every Nth episode")
    parser.add_argument("--hello-timeout-s", type=float, default=5.0, help="seconds to send a valid hello")
    parser.add_argument("--idle-timeout-s", type=float, default=60.0, help="a silent session is closed after this")
    parser.add_argument("--watchdog-s", type=float, default=1.0, help="no step for this long: the robot holds")
    parser.add_argument("--io-timeout-s", type=float, default=10.0, help="completing a frame, sending a reply")
    parser.add_argument("--keepalive-s", type=int, default=5, help="TCP keepalive: idle seconds before probing")
    parser.add_argument("--auth-lockout-s", type=float, default=1.0,
                        help="lockout after a failed authentication, doubled per failure (max 60)")
    args = parser.parse_args()
    if min(args.hello_timeout_s, args.io_timeout_s, args.idle_timeout_s, args.watchdog_s) <= 0:
        fail("--hello-timeout-s, --io-timeout-s, --idle-timeout-s and --watchdog-s must be > 0")
    if not 1 <= args.keepalive_s <= 3600 or not 0 <= args.auth_lockout_s <= MAX_LOCKOUT_S:
        fail("--keepalive-s must be in 1..3600 and --auth-lockout-s in 0..60")
    if args.control_hz > 0 and args.watchdog_s < 2 / args.control_hz:
        fail(f"--watchdog-s {args.watchdog_s} is shorter than two control periods: it would hold between steps")
    sock, bound = listen(args.listen, args.token)
    print(bound, flush=True)
    Server(sock, Driver(args.control_hz, args.interrupt_every), args).run()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
