"""Transport throughput: our Web Push and FCM transports against what a typical project does.

Run (about two minutes; not part of `make test`):

    .venv/bin/python -m tests.perf.bench_transports              # 20,000 messages per channel
    .venv/bin/python -m tests.perf.bench_transports --messages 5000 --only webpush

What runs where: the local fakes (`tests.fakes.webpush`, `tests.fakes.fcm`) each run in their own
process in sink mode (they count every message, check every VAPID header / bearer token, and
fully verify one in 100: decrypt it, validate the FCM JSON). The FCM fake speaks HTTP/2 over TLS
with the test CA (`tests.fakes.tls`), so firebase-admin's async HTTP/2 path runs as in production;
`send_each` talks HTTP/1.1 to the same port. Every measured variant runs in a fresh child process
too, so one variant's threads, caches and memory do not colour the next; the figures come from
one run of this command.

Variants, all sending the same messages (a realistic ~300-byte payload):
- Web Push baseline: pywebpush `webpush()` in a plain loop (signs VAPID and opens a connection per
  message, as most code written against its README does);
- Web Push reference: pywebpush `WebPusher.send_async` with one shared aiohttp session, VAPID
  signed once, 64 in flight (the best pywebpush setup);
- Web Push ours: `WebPushTransport.send_batch`, 500 messages per call as the pipeline sends them,
  with its own HTTP/1.1 client, and once more with `http_client="aiohttp"` for comparison;
- FCM baseline: firebase-admin `send_each` in 500-message calls (a thread per message);
- FCM ours: `FcmTransport.send_batch` (firebase-admin `send_each_async` over HTTP/2), 500 per call.

Printed per variant: messages/s and its ratio to the channel's baseline, the sender's CPU per
message and its ratio, peak RSS, peak thread count, and the fake's CPU per message. For Web Push
also the CPU per message of our encryption + VAPID header (VAPID signed once per origin), of
everything but the network (adds the allowlist check, JSON, headers), of aes128gcm encryption alone
(one key generation, ECDH, HKDF, AES-GCM: the floor) and of pywebpush's `WebPusher.encode()`.
Targets: Web Push ≥ 4,000 msg/s, FCM ≥ 3x send_each, Web Push encryption + VAPID ≤ 70 µs/message.
Other load on the machine shows in the wall-clock rates (and favours the 500-thread baseline,
which wins more of a contended CPU than one event loop does); the CPU columns do not depend on it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
PAYLOAD = {
    "title": "Weekend sale: 20% off everything",
    "body": "Our biggest sale of the season ends Sunday night. Tap to see what's new in your size.",
    "url": "https://shop.example/sale?utm_source=push",
    "icon": "https://shop.example/icon-192.png",
    "pp": {"delivery": "d" * 96, "notification": "8d7c6b5a-0000-4000-8000-000000000001"},
}
SUBJECT = "mailto:ops@pushpilot.example"
BATCH = 500


# ---------------------------------------------------------------------------------------------
# Measurement helpers (run inside the variant's child process).


class Probe:
    """Wall time, CPU time, peak threads of this process while a variant runs."""

    def __init__(self) -> None:
        self.peak_threads = threading.active_count()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.wait(0.02):
            self.peak_threads = max(self.peak_threads, threading.active_count())

    def __enter__(self) -> Probe:
        self._thread.start()
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall0
        self.cpu = time.process_time() - self.cpu0
        self._stop.set()
        self._thread.join()


def result(name: str, count: int, ok: int, probe: Probe, **extra: object) -> dict:
    return {
        "variant": name,
        "messages": count,
        "ok": ok,
        "seconds": probe.wall,
        "rate": count / probe.wall,
        "cpu_us": probe.cpu / count * 1e6,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_threads": probe.peak_threads - 1,  # not counting the probe itself
        **extra,
    }


# ---------------------------------------------------------------------------------------------
# Variants.


def webpush_baseline(ctx: dict) -> dict:
    from pywebpush import WebPushException, webpush

    subscriptions = json.loads(Path(ctx["subscriptions"]).read_text())
    data = json.dumps(PAYLOAD)
    ok = 0
    with Probe() as probe:
        for subscription in subscriptions:
            try:
                webpush(
                    subscription,
                    data=data,
                    vapid_private_key=ctx["vapid_private_key"],
                    vapid_claims={"sub": SUBJECT},
                    ttl=2419200,
                    timeout=10,
                )
                ok += 1
            except WebPushException:
                pass
    return result("baseline: pywebpush webpush() loop", len(subscriptions), ok, probe)


def webpush_pywebpush_async(ctx: dict) -> dict:
    import aiohttp
    from py_vapid import Vapid02
    from pywebpush import WebPusher

    subscriptions = json.loads(Path(ctx["subscriptions"]).read_text())
    data = json.dumps(PAYLOAD)
    origin = subscriptions[0]["endpoint"].split("/push/")[0]
    headers = Vapid02.from_string(ctx["vapid_private_key"]).sign(
        {"aud": origin, "sub": SUBJECT, "exp": int(time.time()) + 12 * 3600}
    )

    async def run() -> int:
        ok = 0
        semaphore = asyncio.Semaphore(64)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session:

            async def one(subscription: dict) -> None:
                nonlocal ok
                async with semaphore:
                    response = await WebPusher(subscription, aiohttp_session=session).send_async(
                        data, dict(headers), ttl=2419200
                    )
                    ok += response.status == 201

            await asyncio.gather(*(one(s) for s in subscriptions))
        return ok

    with Probe() as probe:
        ok = asyncio.run(run())
    return result("pywebpush send_async, shared aiohttp, 64 in flight", len(subscriptions), ok, probe)


def webpush_ours(ctx: dict, http_client: str = "native") -> dict:
    from integrations.transports import Message
    from integrations.transports.webpush import WebPushTransport

    subscriptions = json.loads(Path(ctx["subscriptions"]).read_text())
    origin = subscriptions[0]["endpoint"].split("/push/")[0]
    transport = WebPushTransport(
        ctx["vapid_private_key"], subject=SUBJECT, allowed_origins=[origin], http_client=http_client
    )
    messages = [Message(payload=PAYLOAD, subscription=s) for s in subscriptions]
    transport.send_batch(messages[:10])  # connections and the VAPID JWT, as after the first batch
    ok = 0
    with Probe() as probe:
        for start in range(0, len(messages), BATCH):
            ok += sum(o.ok for o in transport.send_batch(messages[start : start + BATCH]))
    name = "ours: WebPushTransport, 500/call" + (" (aiohttp client)" if http_client == "aiohttp" else "")
    extra: dict[str, object] = {}
    if http_client == "native":
        extra.update(prepare_costs(transport, messages[:3000]))
    return result(name, len(messages), ok, probe, **extra)


def prepare_costs(transport, messages) -> dict:
    """CPU per message of everything but the network, next to encryption alone (best of three:
    the machine's other load only ever adds)."""
    import hmac

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from pywebpush import WebPusher

    from integrations.transports import WebPushSubscription
    from integrations.transports.webpush import ReceiverKeys, b64url_decode, encrypt_aes128gcm

    curve, ecdh = ec.SECP256R1(), ec.ECDH()
    x962, uncompressed = serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    plaintext = json.dumps(PAYLOAD).encode()
    subscriptions = [WebPushSubscription.from_json(m.subscription) for m in messages]
    raw_keys = [(b64url_decode(s.p256dh), b64url_decode(s.auth)) for s in subscriptions]
    origin = transport.endpoints.check(subscriptions[0].endpoint).origin

    def limit() -> None:
        # aes128gcm alone: one key generation, ECDH, HKDF (as HMACs), one AES-GCM record.
        for public_raw, auth in raw_keys:
            sender = ec.generate_private_key(curve)
            sender_public = sender.public_key().public_bytes(x962, uncompressed)
            secret = sender.exchange(ecdh, ec.EllipticCurvePublicKey.from_encoded_point(curve, public_raw))
            prk = hmac.digest(auth, secret, "sha256")
            ikm = hmac.digest(prk, b"WebPush: info\x00" + public_raw + sender_public + b"\x01", "sha256")
            prk = hmac.digest(os.urandom(16), ikm, "sha256")
            cek = hmac.digest(prk, b"Content-Encoding: aes128gcm\x00\x01", "sha256")[:16]
            nonce = hmac.digest(prk, b"Content-Encoding: nonce\x00\x01", "sha256")[:12]
            AESGCM(cek).encrypt(nonce, plaintext + b"\x02", None)

    def ours_crypto() -> None:
        # our encryption (subscription keys parsed from base64url) + the cached VAPID header
        for subscription in subscriptions:
            encrypt_aes128gcm(plaintext, ReceiverKeys.from_subscription(subscription))
            transport.signer.header(origin)

    def ours_prepare() -> None:
        for message in messages:
            transport.prepare(message)

    def pywebpush_encode() -> None:
        for message in messages:
            WebPusher(message.subscription).encode(plaintext, "aes128gcm")

    best: dict[str, float] = {}
    for _ in range(3):
        for name, fn in (
            ("encrypt_limit_us", limit),
            ("crypto_us", ours_crypto),
            ("prepare_us", ours_prepare),
            ("pywebpush_encode_us", pywebpush_encode),
        ):
            start = time.process_time()
            fn()
            cost = (time.process_time() - start) / len(messages) * 1e6
            best[name] = min(best.get(name, cost), cost)
    return best


def fcm_messages(count: int) -> list:
    # Registration-token-shaped strings (~160 characters, like real ones).
    return [f"c{i:07d}Xk2ZFNxRkWeDsnpM:APA91b" + "H" * 128 for i in range(count)]


def fcm_baseline(ctx: dict) -> dict:
    import warnings

    import firebase_admin
    from firebase_admin import credentials, messaging

    warnings.simplefilter("ignore", DeprecationWarning)
    # A typical project changes nothing but the URL (a fake stands in for Google) and trusts the CA.
    os.environ["REQUESTS_CA_BUNDLE"] = ctx["ca_file"]
    app = firebase_admin.initialize_app(credentials.Certificate(ctx["service_account"]), name="baseline")
    service = messaging._get_messaging_service(app)
    service._fcm_url = f"{ctx['fcm_url']}/v1/projects/{app.project_id}/messages:send"
    pp = PAYLOAD["pp"]
    messages = [
        messaging.Message(
            token=token,
            notification=messaging.Notification(title=PAYLOAD["title"], body=PAYLOAD["body"]),
            data={
                "pp_delivery": pp["delivery"],
                "pp_notification": pp["notification"],
                "pp_url": PAYLOAD["url"],
            },
            android=messaging.AndroidConfig(ttl=2419200, priority="normal"),
        )
        for token in fcm_messages(ctx["messages"])
    ]
    messaging.send_each(messages[:10], app=app)
    ok = 0
    with Probe() as probe:
        for start in range(0, len(messages), BATCH):
            ok += messaging.send_each(messages[start : start + BATCH], app=app).success_count
    return result("baseline: firebase-admin send_each, 500/call", len(messages), ok, probe)


def fcm_ours(ctx: dict) -> dict:
    from integrations.transports import Message
    from integrations.transports.fcm import FcmTransport

    transport = FcmTransport(
        ctx["service_account"], app_id="bench", api_url=ctx["fcm_url"], ca_bundle=ctx["ca_file"]
    )
    messages = [Message(payload=PAYLOAD, token=token) for token in fcm_messages(ctx["messages"])]
    transport.send_batch(messages[:10])
    ok = 0
    with Probe() as probe:
        for start in range(0, len(messages), BATCH):
            ok += sum(o.ok for o in transport.send_batch(messages[start : start + BATCH]))
    return result("ours: FcmTransport (send_each_async, HTTP/2), 500/call", len(messages), ok, probe)


VARIANTS = {
    "webpush-baseline": webpush_baseline,
    "webpush-pywebpush-async": webpush_pywebpush_async,
    "webpush-ours": webpush_ours,
    "webpush-ours-aiohttp": lambda ctx: webpush_ours(ctx, http_client="aiohttp"),
    "fcm-baseline": fcm_baseline,
    "fcm-ours": fcm_ours,
}


# ---------------------------------------------------------------------------------------------
# Orchestration.


def fcm_context(fake, messages: int) -> dict:
    """What the FCM variants read: the fake's service account, URL and CA, and how many to send."""
    return {
        "service_account": fake.info["service_account"],
        "fcm_url": fake.base_url,
        "ca_file": fake.info["ca_file"],
        "messages": messages,
    }


def run_variant(name: str, ctx_file: str, fake) -> dict:
    cpu_before = fake.cpu_seconds()
    completed = subprocess.run(
        [sys.executable, "-m", "tests.perf.bench_transports", "--variant", name, "--context", ctx_file],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{completed.stderr[-3000:]}")
    data = json.loads(completed.stdout.strip().splitlines()[-1])
    data["fake_cpu_us"] = (fake.cpu_seconds() - cpu_before) / data["messages"] * 1e6
    return data


def print_table(title: str, rows: list[dict]) -> None:
    baseline = rows[0]["rate"]
    print(f"\n{title}")
    base_cpu = rows[0]["cpu_us"]
    print(
        f"  {'variant':55} {'msg/s':>6} {'ratio':>6} {'CPU µs/msg':>10} {'CPU ratio':>9}"
        f" {'RSS MB':>6} {'threads':>7} {'fake µs/msg':>11}"
    )
    for row in rows:
        print(
            f"  {row['variant']:55} {row['rate']:6.0f} {row['rate'] / baseline:5.1f}x {row['cpu_us']:10.0f}"
            f" {base_cpu / row['cpu_us']:8.1f}x {row['peak_rss_mb']:6.0f} {row['peak_threads']:7d}"
            f" {row['fake_cpu_us']:11.0f}"
            + ("" if row["ok"] == row["messages"] else f"   ({row['messages'] - row['ok']} not sent!)")
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20_000, help="messages per channel and variant")
    parser.add_argument("--only", choices=["webpush", "fcm"])
    parser.add_argument("--variant", choices=sorted(VARIANTS), help=argparse.SUPPRESS)
    parser.add_argument("--context", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.variant:  # a child: run one variant, print one JSON line
        ctx = json.loads(Path(args.context).read_text())
        print(json.dumps(VARIANTS[args.variant](ctx)))
        return

    from integrations.transports.webpush import generate_vapid_key_pair
    from tests.fakes.fcm import FakeFcm
    from tests.fakes.webpush import FakeWebPush

    print(
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; {args.messages:,} messages per variant"
    )
    summary: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.only in (None, "webpush"):
            fake = FakeWebPush.spawn("--sink")
            try:
                subscriptions = requests.post(
                    f"{fake.base_url}/_fake/subscriptions", json={"count": args.messages}, timeout=300
                ).json()["subscriptions"]
                sub_file = Path(tmp, "subscriptions.json")
                sub_file.write_text(json.dumps(subscriptions))
                ctx_file = Path(tmp, "webpush.json")
                ctx_file.write_text(
                    json.dumps(
                        {"subscriptions": str(sub_file), "vapid_private_key": generate_vapid_key_pair()[0]}
                    )
                )
                rows = [
                    run_variant(name, str(ctx_file), fake)
                    for name in (
                        "webpush-baseline",
                        "webpush-pywebpush-async",
                        "webpush-ours",
                        "webpush-ours-aiohttp",
                    )
                ]
                stats = requests.get(f"{fake.base_url}/_fake/stats", timeout=10).json()
            finally:
                fake.stop()
            print_table("Web Push (fake: aiohttp server, sink mode, separate process)", rows)
            ours = rows[2]
            print(
                "  CPU per Web Push message, best of 3 x 3,000:"
                f" ours encryption + VAPID {ours['crypto_us']:.0f} µs"
                f" | ours all but the network (+ allowlist, JSON, headers) {ours['prepare_us']:.0f} µs"
                f" | limit: aes128gcm alone {ours['encrypt_limit_us']:.0f} µs"
                f" | pywebpush WebPusher.encode() {ours['pywebpush_encode_us']:.0f} µs"
            )
            print(f"  fake: {stats['counters']}")
            summary += [
                _verdict("Web Push ≥ 4,000 msg/s", ours["rate"] >= 4000, f"{ours['rate']:.0f} msg/s"),
                _verdict(
                    "Web Push ≥ 5x baseline",
                    ours["rate"] >= 5 * rows[0]["rate"],
                    f"{ours['rate'] / rows[0]['rate']:.1f}x",
                ),
                _verdict(
                    "Web Push CPU (encryption + VAPID) ≤ 70 µs/message",
                    ours["crypto_us"] <= 70,
                    f"{ours['crypto_us']:.0f} µs (encryption alone here: {ours['encrypt_limit_us']:.0f} µs)",
                ),
            ]
        if args.only in (None, "fcm"):
            fake = FakeFcm.spawn("--sink")
            try:
                ctx_file = Path(tmp, "fcm.json")
                ctx_file.write_text(json.dumps(fcm_context(fake, args.messages)))
                rows = [run_variant(name, str(ctx_file), fake) for name in ("fcm-baseline", "fcm-ours")]
                stats = requests.get(
                    f"{fake.base_url}/_fake/stats", timeout=10, verify=fake.info["ca_file"]
                ).json()
            finally:
                fake.stop()
            print_table("FCM (fake: HTTP/2 + TLS, sink mode, separate process)", rows)
            print(f"  fake: {stats['counters']}")
            ours = rows[1]
            summary += [
                _verdict(
                    "FCM ≥ 3x send_each",
                    ours["rate"] >= 3 * rows[0]["rate"],
                    f"{ours['rate'] / rows[0]['rate']:.1f}x",
                ),
                _verdict(
                    "FCM sender RSS ≤ 150 MB", ours["peak_rss_mb"] <= 150, f"{ours['peak_rss_mb']:.0f} MB"
                ),
                _verdict(
                    "FCM no 500-thread bursts", ours["peak_threads"] < 50, f"{ours['peak_threads']} threads"
                ),
            ]
    load = os.getloadavg()[0]
    print(f"\nload average after the run {load:.2f}")
    if load > 1.5:
        print(
            "  The machine was busy: wall-clock rates understate what an idle machine does, and a\n"
            "  500-thread baseline wins more of a contended CPU than a one-thread event loop."
            " The CPU columns\n  (sender CPU per message, and its ratio to the baseline) do not depend on the load."
        )
    for line in summary:
        print(line)


def _verdict(target: str, passed: bool, figure: str) -> str:
    return f"  {'PASS' if passed else 'MISS'}  {target}: {figure}"


if __name__ == "__main__":
    main()
