"""Throughput of the openai backend against concurrency, beside the ideal.

A loopback OpenAI-compatible server answers ``/v1/completions`` (echo + logprobs) after a fixed
latency (200 ms) and handles at most ``SERVER_LIMIT`` requests at once (a semaphore, as a
server's batch slots). The ideal throughput at concurrency c is min(c, limit) / latency.

    python benchmarks/openai_concurrency.py [--requests 192] [--latency 0.2] [--limit 32]
"""

from __future__ import annotations

import argparse
import json
import resource
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from assay.models._openai import OpenAIBackend
from assay.requests import LoglikelihoodRequest


class _Server(ThreadingHTTPServer):
    request_queue_size = 256
    daemon_threads = True


def serve(latency: float, limit: int) -> ThreadingHTTPServer:
    slots = threading.BoundedSemaphore(limit)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real servers

        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            prompt = body["prompt"]
            with slots:
                time.sleep(latency)
            words = prompt.split(" ")
            offsets, at = [], 0
            for w in words:
                offsets.append(at)
                at += len(w) + 1
            tokens = [w if i == 0 else " " + w for i, w in enumerate(words)]
            offsets = [0] + [o - 1 for o in offsets[1:]]
            values = [None] + [-0.5] * (len(tokens) - 1)
            logprobs = {
                "tokens": [*tokens, "<eos>"],
                "token_logprobs": [*values, -1.0],
                "text_offset": [*offsets, len(prompt)],
                "top_logprobs": [None] * (len(tokens) + 1),
            }
            usage = {"prompt_tokens": len(tokens), "completion_tokens": 1}
            data = json.dumps({"choices": [{"text": prompt, "logprobs": logprobs}], "usage": usage})
            raw = data.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

    server = _Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=192)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--limit", type=int, default=32)
    args = parser.parse_args()
    server = serve(args.latency, args.limit)
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    requests = [LoglikelihoodRequest(f"Question {i} asks what {i} plus one is.", f" {i + 1}")
                for i in range(args.requests)]  # fmt: skip
    print(f"{args.requests} requests, {args.latency * 1000:.0f} ms latency, "
          f"server handles {args.limit} at once")  # fmt: skip
    print(f"{'concurrency':>11} {'req/s':>8} {'ideal':>8} {'of ideal':>9} {'window peak':>12}")
    reference = None
    for concurrency in (1, 4, 16, 32, 64):
        backend = OpenAIBackend("bench", url, concurrency=concurrency, timeout=60)
        n = args.requests if concurrency > 1 else max(8, args.requests // 8)
        start = time.perf_counter()
        results = backend.loglikelihood(requests[:n])
        rate = n / (time.perf_counter() - start)
        backend.close()
        if reference is None:
            reference = results
        assert results[: len(reference)] == reference  # identical whatever the concurrency
        ideal = min(concurrency, args.limit) / args.latency
        print(f"{concurrency:>11} {rate:>8.1f} {ideal:>8.1f} {rate / ideal:>8.0%} "
              f"{backend.counters['window_peak']:>12}")  # fmt: skip
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process: {peak:.0f} MB")
    server.shutdown()


if __name__ == "__main__":
    main()
