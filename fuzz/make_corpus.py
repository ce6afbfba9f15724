"""Regenerate the seed corpus of the fuzz targets (fuzz/corpus/<target>/). Deterministic;
needs pyarrow (the test venv has it) and the `zstd` command:

    .venv/bin/python fuzz/make_corpus.py

Seeds are small on purpose (a few hundred bytes to a few KB): libFuzzer mutates them,
and short inputs run fast. Taken from events/, tests/fixtures/ and hand-made edge cases.
The first byte of a csv_read / compressed_read / approval_body seed is the target's
option byte (see each target's doc comment).
"""
import gzip
import io
import json
import pathlib
import subprocess

import pyarrow as pa
import pyarrow.parquet as pq

here = pathlib.Path(__file__).resolve().parent
root = here.parent
corpus = here / "corpus"


def put(target, name, data):
    d = corpus / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def reset():
    """Remove the generated seeds; inputs that once crashed a target (`crash-*`, kept as
    regression seeds beside their unit tests) stay."""
    for p in corpus.glob("*/*"):
        if p.is_file() and not p.name.startswith("crash-"):
            p.unlink()


SAMPLE = (root / "events/data/sample.csv").read_bytes()
SAMPLE_HEAD = b"".join(SAMPLE.splitlines(keepends=True)[:6])


def csv_seeds():
    # option byte 0: sniffed delimiter, '"' quotes, no escape, batch size 1, all columns.
    put("csv_read", "sample-head", b"\x00" + SAMPLE_HEAD)
    put("csv_read", "quotes-bom-multiline", b"\x20" + b"\xef\xbb\xbfid,name,note\n1,\"Smith, J\",\"say \"\"hi\"\"\"\n2,Ann,\n3,\"multi\nline\",x")
    put("csv_read", "semicolon-crlf", b"\x00a;b\r\n1;2\r\n3;4\r\n")
    put("csv_read", "tab-projection", b"\x85id\ta\tb\n1\tx\t2\n")  # tab fixed, projection
    put("csv_read", "escape-single-quote", b"\x18a,b\n'x\\'y',2\n'p,q',3\n")
    put("csv_read", "ragged", b"\x00a,b\n1,2\n3\n")
    put("csv_read", "latin1", b"\x00a,b\n1,caf\xe9\n2,x\n")
    put("csv_read", "utf16-bom", b"\x00\xff\xfea\x00,\x00b\x00")
    put("csv_read", "duplicate-header", b"\x00a,b,a\n1,2,3\n")
    put("csv_read", "pipe-header-only", b"\x07x|y|z")
    put("csv_read", "cut-utf8", b"\x00a,b\n1,\xe2\x82")


def parquet_bytes(table, **kw):
    buf = io.BytesIO()
    pq.write_table(table, buf, **kw)
    return buf.getvalue()


def parquet_seeds():
    t = pa.table({
        "id": pa.array([1, 2, None, 4], type=pa.int64()),
        "name": pa.array(["a", "bb", None, "a"]),
        "category": pa.array(["x", "x", "y", "x"]),
        "score": pa.array([0.5, None, 2.25, -1.0]),
    })
    put("parquet_read", "plain-snappy.parquet", parquet_bytes(t))
    put("parquet_read", "no-dictionary-none.parquet", parquet_bytes(t, use_dictionary=False, compression="none"))
    put("parquet_read", "zstd-v2-pages.parquet", parquet_bytes(t, compression="zstd", data_page_version="2.0"))
    put("parquet_read", "gzip-two-row-groups.parquet", parquet_bytes(t, compression="gzip", row_group_size=2))
    put("parquet_read", "lz4-stats-off.parquet", parquet_bytes(t, compression="lz4", write_statistics=False))
    put("parquet_read", "brotli-byte-stream-split.parquet", parquet_bytes(
        pa.table({"score": pa.array([1.5, 2.5, None]), "day": pa.array([1, 2, 3], type=pa.date32())}),
        compression="brotli", use_dictionary=False, column_encoding={"score": "BYTE_STREAM_SPLIT", "day": "DELTA_BINARY_PACKED"}))
    put("parquet_read", "nested-list.parquet", parquet_bytes(
        pa.table({"id": pa.array([1, 2]), "tags": pa.array([["a", "b"], None])}), compression="none"))
    put("parquet_read", "zero-rows.parquet", parquet_bytes(t.slice(0, 0)))
    put("parquet_read", "part-other.parquet", (root / "tests/fixtures/schema/part-other.parquet").read_bytes())


def compressed_seeds():
    plain = SAMPLE_HEAD
    gz = gzip.compress(plain, mtime=0)
    put("compressed_read", "gzip-sample", b"\x00" + gz[2:])
    two = gzip.compress(b"a,b\n1,2\n", mtime=0) + gzip.compress(b"3,4\n", mtime=0)
    put("compressed_read", "gzip-two-members", b"\x00" + two[2:])
    put("compressed_read", "gzip-cut", b"\x00" + gz[2:-6])
    zs = subprocess.run(["zstd", "-q", "-c", "-3"], input=plain, capture_output=True, check=True).stdout
    put("compressed_read", "zstd-sample", b"\x01" + zs[4:])
    zs2 = subprocess.run(["zstd", "-q", "-c", "--no-check"], input=b"x,y\n1,2\n", capture_output=True, check=True).stdout
    put("compressed_read", "zstd-two-frames", b"\x01" + zs2[4:] + zs2)
    put("compressed_read", "zstd-cut", b"\x01" + zs[4:-5])


def event_seeds():
    for f in sorted((root / "events").glob("*/*.json")):
        put("events", f"{f.parent.name}--{f.name}", f.read_bytes())


def approval_seeds():
    # bits 0-2 content type, 3 base64, 4 body may be absent, 5 browser headers, 6 other site
    put("approval_body", "form", b"\x00decision=approve&comment=looks+good&csrf_token=abc%20123")
    put("approval_body", "form-browser-evil", b"\x60decision=reject&comment=%E2%9C%93")
    put("approval_body", "json", b"\x02{\"decision\":\"approve\",\"comment\":\"ok\",\"csrf_token\":\"t\"}")
    put("approval_body", "json-empty-ctype", b"\x04{\"decision\":\"reject\"}")
    put("approval_body", "base64-form", b"\x08ZGVjaXNpb249YXBwcm92ZSZjb21tZW50PW9r")
    put("approval_body", "base64-json", b"\x0aeyJkZWNpc2lvbiI6ImFwcHJvdmUifQ==")
    put("approval_body", "other-type", b"\x05decision=approve")


def classify_seeds():
    entries = json.loads((root / "tests/fixtures/training-failures/corpus.json").read_text())["entries"]
    seen = set()
    for e in entries:
        # One message per shape and framework is plenty.
        key = (e.get("shape"), e.get("framework"))
        msg = e.get("message")
        if key in seen or not isinstance(msg, str):
            continue
        seen.add(key)
        if len(seen) > 16:
            break
        text = msg
        if e.get("shape") == "api_error" and e.get("error"):
            text = f"{e['error']}\n{msg}"
        put("classify", e["id"], text.encode()[:2048])


if __name__ == "__main__":
    reset()
    csv_seeds()
    parquet_seeds()
    compressed_seeds()
    event_seeds()
    approval_seeds()
    classify_seeds()
    total = sum(p.stat().st_size for p in corpus.rglob("*") if p.is_file())
    print(f"{sum(1 for p in corpus.rglob('*') if p.is_file())} seeds, {total} bytes")
