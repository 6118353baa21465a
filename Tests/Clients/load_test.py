"""Load test of `bld serve` on loopback: 8 concurrent clients send 100 AUTOMATIC1111 img2img requests in all.

Usage: python load_test.py PORT IMAGE MASK
Every answer must be 200 or 429 (queue full, with Retry-After). Prints one JSON line of counts and timings.
"""
import base64
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

port, image_path, mask_path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
encode = lambda path: base64.b64encode(open(path, "rb").read()).decode()
payload = {"init_images": [encode(image_path)], "mask": encode(mask_path), "prompt": "a red hat!", "steps": 4,
           "denoising_strength": 1.0, "sampler_name": "DDIM", "width": 16, "height": 16, "mask_blur": 0, "seed": 1}
statuses, lock, latencies = {}, threading.Lock(), []

def one(index):
    started = time.time()
    response = requests.post(f"http://127.0.0.1:{port}/sdapi/v1/img2img", json=payload, timeout=300)
    with lock:
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        latencies.append(time.time() - started)
    if response.status_code == 429:
        assert response.headers.get("Retry-After"), "429 carries Retry-After"
    elif response.status_code == 200:
        assert len(response.json()["images"]) == 1
    return response.status_code

started = time.time()
with ThreadPoolExecutor(max_workers=8) as pool:
    codes = list(pool.map(one, range(100)))
elapsed = time.time() - started
assert len(codes) == 100
assert set(codes) <= {200, 429}, statuses
assert statuses.get(200, 0) > 0, statuses
latencies.sort()
print(json.dumps({"statuses": {str(k): v for k, v in statuses.items()}, "seconds": round(elapsed, 2),
                  "p50": round(latencies[49], 3), "max": round(latencies[-1], 3)}))
