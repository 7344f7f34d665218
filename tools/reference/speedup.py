"""Prints the speed-up of the Rust engine over face-api.js, stage by stage.

    python3 speedup.py RUST_TABLE REFERENCE_JSON

RUST_TABLE is what the `bench_stages` example prints (stage, threads, median ms per row);
REFERENCE_JSON is what `bench.mjs` prints. Both were measured in the same `tools/bench` run,
so the ratio is meaningful even when the machine's absolute speed is not.
"""

import json
import sys

# bench_stages row name -> bench.mjs stage key (the same workload on the same pixels).
SAME_WORK = {
    "tiny detect @416 (640x480)": "tiny_detect_416",
    "landmarks68 (detection crop)": "landmarks",
    "recognition (dlib crop)": "recognition",
    "full tiny pipeline, 1 face 640x480": "tiny_pipeline_frame",
    "full tiny pipeline, sample1 (3 faces)": "tiny_pipeline_sample1_all",
    "ssd detect (640x480)": "ssd_detect",
    "full ssd pipeline, 1 face 640x480": "ssd_pipeline_frame",
    "full ssd pipeline, sample1 (3 faces)": "ssd_pipeline_sample1_all",
}


def read_rust(path):
    """{(stage, threads): median ms} from the aligned text table."""
    rows = {}
    with open(path) as f:
        next(f)  # header
        for line in f:
            stage, threads, ms = line.rstrip().rsplit(maxsplit=2)
            rows[(stage.strip(), int(threads))] = float(ms)
    return rows


def main():
    rust = read_rust(sys.argv[1])
    with open(sys.argv[2]) as f:
        reference = json.load(f)["median_ms"]
    threads = sorted({t for _, t in rust})
    head = f"{'stage':<38}{'reference':>10}" + "".join(
        f"{f'rust {t}t':>9}{f'x{t}t':>7}" for t in threads
    )
    print(head)
    for stage, key in SAME_WORK.items():
        ref_ms = reference.get(key)
        if ref_ms is None:
            continue
        line = f"{stage:<38}{ref_ms:>10.2f}"
        for t in threads:
            ms = rust.get((stage, t))
            line += f"{ms:>9.2f}{ref_ms / ms:>6.1f}x" if ms else f"{'-':>9}{'-':>7}"
        print(line)


if __name__ == "__main__":
    main()
