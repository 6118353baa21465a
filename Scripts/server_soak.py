"""The server soak of issue 16: REQUESTS requests (default 200) to one `bld serve` process on a loopback port with
the tiny SD 2 fixture model, printing the server's resident memory (VmRSS of /proc/PID/status) after request 20
and after the last, and failing when it grew by more than 5 % (or when any answer is not the expected one).

Every fourth request is a 64 × 64 edit with 4 steps, in turn through each API: AUTOMATIC1111 img2img (JSON,
base64), native (JSON, answered 202; the following request polls its status) and OpenAI (multipart). The others
are cheap: progress, options, models, samplers, the native model route and a malformed body (400). Before each
RSS reading the last native job is awaited, so no edit is running. The server is stopped (SIGTERM, then SIGKILL)
however the script ends, and dies with it (PR_SET_PDEATHSIG). Standard library only; run by
`Scripts/soak.sh server`.

    python3 Scripts/server_soak.py BLD_EXECUTABLE [REQUESTS]
"""
import base64
import ctypes
import json
import re
import signal
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
import zlib
from pathlib import Path


def png(width, height, pixel, alpha=False):
    """An 8-bit RGB (or RGBA) PNG whose pixel (x, y) is pixel(x, y)."""
    rows = b"".join(b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(width)) for y in range(height))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 6 if alpha else 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def resident_kib(pid, field="VmRSS"):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for process {pid}")


def die_with_parent():
    """Runs in the child before exec: SIGKILL it when this script's process ends, however it ends."""
    ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG


def forward(stream):
    for line in stream:
        sys.stderr.write(line)


def multipart(fields, files):
    boundary = uuid.uuid4().hex
    body = b""
    for name, value in fields.items():
        body += f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n".encode()
    for name, data in files.items():
        body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}.png\"\r\n"
                 "Content-Type: image/png\r\n\r\n").encode() + data + b"\r\n"
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def soak(executable, total):
    model = Path(__file__).resolve().parent.parent / "Tests/NetworksTests/Fixtures/sd2-tiny/model"
    server = subprocess.Popen(
        [executable, "serve", "--model", str(model), "--host", "127.0.0.1", "--port", "0", "--threads", "2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, preexec_fn=die_with_parent)
    try:
        port = None
        deadline = time.time() + 120
        while port is None and time.time() < deadline:
            line = server.stderr.readline()
            if not line:
                break
            sys.stderr.write(line)
            match = re.search(r"listening on http://[^:]+:(\d+)/", line)
            if match:
                port = int(match.group(1))
        if port is None:
            raise SystemExit("server soak: bld serve did not start")
        # Keep reading stderr so that a chatty server never blocks on a full pipe.
        threading.Thread(target=forward, args=(server.stderr,), daemon=True).start()
        run(server, f"http://127.0.0.1:{port}", total)
    finally:
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def run(server, base, total):
    def request(path, body=None, raw=None, content_type="application/json"):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        headers = {"Content-Type": content_type} if data is not None else {}
        try:
            with urllib.request.urlopen(urllib.request.Request(base + path, data=data, headers=headers),
                                        timeout=300) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def expect(index, what, status, body, wanted):
        if status != wanted:
            raise SystemExit(f"server soak: request {index} ({what}) answered {status}: {body[:200]!r}")
        return body

    image = png(64, 64, lambda x, y: (4 * x, 4 * y, 128))
    square = lambda x, y: 16 <= x < 48 and 16 <= y < 48
    white_square = base64.b64encode(png(64, 64, lambda x, y: (255,) * 3 if square(x, y) else (0,) * 3)).decode()
    clear_square = png(64, 64, lambda x, y: (0, 0, 0, 0 if square(x, y) else 255), alpha=True)
    image64 = base64.b64encode(image).decode()

    def automatic1111(index):
        body = expect(index, "img2img", *request("/sdapi/v1/img2img", {
            "init_images": [image64], "mask": white_square, "prompt": f"a red hat {index}", "steps": 4,
            "width": 64, "height": 64, "denoising_strength": 1, "seed": index, "sampler_name": "DDIM"}), 200)
        if len(json.loads(body)["images"]) != 1:
            raise SystemExit(f"server soak: request {index}: img2img returned no image")

    def native(index):
        body = expect(index, "native edit", *request("/v1/edits", {
            "image": image64, "mask": white_square, "prompt": f"a blue hat {index}", "steps": 4, "seed": index,
            "scheduler": "ddim", "working_size": "original"}), 202)
        return json.loads(body)["id"]

    def openai(index):
        form, content_type = multipart(
            {"prompt": f"a green hat {index}", "size": "64x64"}, {"image": image, "mask": clear_square})
        body = expect(index, "OpenAI edit", *request("/v1/images/edits", raw=form, content_type=content_type), 200)
        if len(json.loads(body)["data"]) != 1:
            raise SystemExit(f"server soak: request {index}: OpenAI edit returned no image")

    cheap = [
        ("progress", "/sdapi/v1/progress?skip_current_image=true", None, 200),
        ("options", "/sdapi/v1/options", None, 200),
        ("models", "/sdapi/v1/sd-models", None, 200),
        ("samplers", "/sdapi/v1/samplers", None, 200),
        ("model", "/v1/model", None, 200),
        ("malformed body", "/sdapi/v1/img2img", b"{not json", 400),
    ]
    native_jobs = []

    def native_status(job):
        status, body = request(f"/v1/edits/{job}")
        return json.loads(expect(0, "native status", status, body, 200))["status"]

    def await_native():
        while native_jobs and native_status(native_jobs[-1]) in ("queued", "running"):
            time.sleep(0.05)

    edits = [automatic1111, native, openai]
    after_twenty = None
    start = time.time()
    for index in range(1, total + 1):
        if index % 4 == 1:
            job = edits[(index // 4) % len(edits)](index)
            if job is not None:
                native_jobs.append(job)
        elif index % 4 == 2 and native_jobs and (index // 4) % len(edits) == 1:
            native_status(native_jobs[-1])
        else:
            what, path, raw, wanted = cheap[index % len(cheap)]
            expect(index, what, *request(path, raw=raw), wanted)
        if index == 20:
            await_native()
            after_twenty = resident_kib(server.pid)
    await_native()
    after_last = resident_kib(server.pid)
    peak = resident_kib(server.pid, "VmHWM")
    failed = [job for job in native_jobs if native_status(job) != "succeeded"]
    if failed:
        raise SystemExit(f"server soak: native jobs did not succeed: {failed}")
    if after_twenty is None:
        raise SystemExit("server soak: needs at least 20 requests")
    growth = (after_last - after_twenty) / after_twenty
    print(f"server soak: {total} requests ({sum(1 for i in range(1, total + 1) if i % 4 == 1)} edits) in "
          f"{time.time() - start:.1f} s")
    print(f"server soak: RSS after request 20 {after_twenty / 1024:.1f} MiB, after request {total} "
          f"{after_last / 1024:.1f} MiB, growth {100 * growth:+.2f} % (peak {peak / 1024:.1f} MiB)")
    if growth > 0.05:
        raise SystemExit("server soak: RSS grew by more than 5 %")


def main():
    executable = sys.argv[1]
    total = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    # SIGTERM ends the script as Ctrl-C does, through the finally clauses that stop the server.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    soak(executable, total)


main()
