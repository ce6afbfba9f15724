"""Turn bench/out/schema/results.tsv into the RESULTS.md table and check that the
trainguard and peer verdicts agree (rows, findings and counts)."""
import json
import os
import sys

out, data = sys.argv[1], sys.argv[2]


def seconds(s):
    parts = [float(p) for p in s.split(":")]
    return sum(p * 60 ** i for i, p in enumerate(reversed(parts)))


rows = [l.rstrip("\n").split("\t") for l in open(os.path.join(out, "results.tsv")) if l.strip()]
res = {name: (seconds(w), int(rss) / 1024) for name, w, rss in rows}
print("| run | file | size | wall (s) | MB/s | peak RSS (MB) |")
print("|---|---|---|---|---|---|")
for name, (wall, rss) in res.items():
    fmt = name.split("-")[-1]
    path = os.path.join(data, f"features.{fmt}")
    size = os.path.getsize(path) / 1e6
    print(f"| {name} | features.{fmt} | {size:.0f} MB | {wall:.1f} | {size / wall:.0f} | {rss:.0f} |")
for fmt in ("csv", "parquet"):
    t, p = res.get(f"trainguard-{fmt}"), res.get(f"peer-{fmt}")
    if t and p:
        print(f"\n{fmt}: trainguard is {p[0] / t[0]:.1f}x the peer's throughput; peak RSS {t[1]:.0f} MB vs {p[1]:.0f} MB")
    try:
        tg = json.load(open(os.path.join(out, f"trainguard-{fmt}.out")))
        pe = json.load(open(os.path.join(out, f"peer-{fmt}.out")))
        print(f"{fmt}: rows trainguard={tg['rows']} peer={pe['rows']}; passed trainguard={tg['passed']} peer={pe['passed']}; "
              f"errors={tg['violations']['error']} warnings={tg['violations']['warning']} (peer findings: "
              + ", ".join(f"{f['column']}.{f['check']}={f['count']}" for f in pe["findings"]) + ")")
    except (OSError, ValueError, KeyError) as e:
        print(f"{fmt}: could not compare verdicts: {e}")
