"""Loads every file Parley exports with Hugging Face `datasets`, as trainers' tools do, and
checks its columns and row counts against the manifest.

Usage: check_exports.py PARLEY_BINARY

The shared data is read from $PARLEY_SHARED_DATA, else ../shared/data beside the checkout,
else /work/shared/data.

It makes its own SQLite database: the shared HH-RLHF and Open-Assistant files imported,
synthetic rankings, thumbs and filter feedback seeded; then `parley export` with a split, as
JSON lines and as Parquet. Each Parquet file must hold the rows of its JSON lines twin.
"""

import json
import os
import subprocess
import sys
import tempfile

import datasets

COLUMNS = {
    "sft": {"messages"},
    "preference-trl": {"prompt", "chosen", "rejected", "margin"},
    "preference-openai": {"input", "preferred_output", "non_preferred_output"},
    "preference-hh": {"chosen", "rejected"},
    "kwise": {"prompt", "completions", "ranking"},
    "kto": {"prompt", "completion", "label"},
    "filter-feedback": {"text", "feedback", "category"},
    "oasst-trees": {"message_tree_id", "tree_state", "prompt"},
}


PARQUET = {"sft", "preference-trl", "preference-openai", "preference-hh", "kwise", "kto"}


def parley(binary, db, *args):
    out = subprocess.run(
        [binary, *args, "--database-url", db],
        capture_output=True,
        text=True,
        env={**os.environ, "RUST_LOG": "error"},
    )
    if out.returncode != 0:
        sys.exit(f"parley {' '.join(args)} failed:\n{out.stdout}{out.stderr}")
    return out.stdout


def check_row(fmt, row):
    """The shapes the tools rely on, on the first row."""
    if fmt == "sft":
        assert row["messages"][0]["role"] in ("system", "user"), row["messages"][0]
    elif fmt == "preference-trl":
        assert row["chosen"][0]["role"] == "assistant" and row["prompt"][-1]["role"] == "user"
        assert isinstance(row["margin"], float)
    elif fmt == "preference-openai":
        assert row["input"]["messages"][-1]["role"] == "user"
        assert row["preferred_output"][0]["role"] == "assistant"
    elif fmt == "preference-hh":
        assert row["chosen"].startswith("\n\nHuman: ") and "\n\nAssistant: " in row["rejected"]
    elif fmt == "kwise":
        assert sorted(row["ranking"]) == list(range(len(row["completions"])))
    elif fmt == "kto":
        assert isinstance(row["label"], bool) and row["completion"][0]["role"] == "assistant"
    elif fmt == "oasst-trees":
        assert row["prompt"]["role"] == "prompter" and row["tree_state"] == "ready_for_export"


NODE_FIELDS = {
    "message_id", "parent_id", "user_id", "created_date", "text", "role", "lang", "review_count",
    "review_result", "deleted", "rank", "synthetic", "model_name", "emojis", "replies", "labels",
}


def check_trees(path, rows):
    count = 0
    with open(path) as f:
        for line in f:
            tree = json.loads(line)
            assert tree["tree_state"] == "ready_for_export" and tree["prompt"]["role"] == "prompter"
            stack = [tree["prompt"]]
            while stack:
                node = stack.pop()
                missing = NODE_FIELDS - set(node)
                assert not missing, f"node {node.get('message_id')}: missing {missing}"
                assert node["role"] in ("prompter", "assistant")
                stack.extend(node["replies"])
            count += 1
    assert count == rows, f"{path}: {count} trees, manifest says {rows}"


def shared_data():
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = [os.environ.get("PARLEY_SHARED_DATA"), os.path.join(here, "../../../shared/data"), "/work/shared/data"]
    for folder in filter(None, candidates):
        if os.path.exists(os.path.join(folder, "hh-rlhf-harmless-base-test.jsonl.gz")):
            return folder
    sys.exit(f"the shared data is not in any of {candidates}; set PARLEY_SHARED_DATA")


def main():
    binary, shared = sys.argv[1], shared_data()
    with tempfile.TemporaryDirectory() as tmp:
        db = f"sqlite://{tmp}/parley.db?mode=rwc"
        subprocess.run(
            [binary, "user", "add", "--email", "admin@example.org", "--role", "admin", "--password-stdin",
             "--database-url", db],
            input="correct horse battery\n", text=True, check=True, capture_output=True,
        )
        parley(binary, db, "import", os.path.join(shared, "hh-rlhf-harmless-base-test.jsonl.gz"))
        parley(binary, db, "import", os.path.join(shared, "oasst-prompt-lottery-en-250.jsonl"))
        parley(binary, db, "seed", "--synthetic", "600")
        out = os.path.join(tmp, "out")
        parley(binary, db, "export", "--out", out, "--split-seed", "3", "--test-ratio", "0.2",
               "--pseudonym-seed", "9", "--file-type", "jsonl,parquet")
        with open(os.path.join(out, "manifest.json")) as f:
            manifest = json.load(f)
        checked = loaded = parquet = 0
        for file in manifest["files"]:
            path = os.path.join(out, file["name"])
            if file["rows"] == 0:
                if file["file_type"] == "parquet":
                    with open(path, "rb") as f:
                        assert f.read(4) == b"PAR1", file
                else:
                    assert os.path.getsize(path) == 0, file
                continue
            if file["file_type"] == "parquet":
                ds = datasets.load_dataset("parquet", data_files=path, split="train")
                assert ds.num_rows == file["rows"], f"{file['name']}: {ds.num_rows} rows, manifest says {file['rows']}"
                twin = path.removesuffix(".parquet") + ".jsonl"
                with open(twin) as f:
                    lines = [json.loads(line) for line in f]
                assert set(ds.column_names) == set(lines[0]), f"{file['name']}: columns {ds.column_names}"
                for i in sorted({0, len(lines) // 2, len(lines) - 1}):
                    assert ds[i] == lines[i], f"{file['name']} row {i}: {ds[i]} is not {lines[i]}"
                check_row(file["format"], ds[0])
                print(f"{file['name']:<32} {ds.num_rows:>7} rows  the same as {os.path.basename(twin)}")
                checked += 1
                parquet += 1
                continue
            if file["format"] == "oasst-trees":
                # Arrow cannot hold the nested `replies` of deep trees (its schema recursion
                # limit); Open-Assistant's own tools read trees with json, as here.
                check_trees(path, file["rows"])
                print(f"{file['name']:<32} {file['rows']:>7} trees checked with json (every node's fields)")
                checked += 1
                continue
            ds = datasets.load_dataset("json", data_files=path, split="train")
            missing = COLUMNS[file["format"]] - set(ds.column_names)
            assert not missing, f"{file['name']}: missing columns {missing}"
            assert ds.num_rows == file["rows"], f"{file['name']}: {ds.num_rows} rows, manifest says {file['rows']}"
            check_row(file["format"], ds[0])
            loaded += 1
            print(f"{file['name']:<32} {ds.num_rows:>7} rows  columns {sorted(ds.column_names)}")
            checked += 1
        formats = {f["format"] for f in manifest["files"] if f["rows"] > 0}
        assert formats == set(COLUMNS), f"formats without rows: {set(COLUMNS) - formats}"
        # Which side a conversation falls on depends on its (random) id, so a small set may
        # have an empty side; every format with Parquet must have rows in some Parquet file.
        in_parquet = {f["format"] for f in manifest["files"] if f["file_type"] == "parquet" and f["rows"] > 0}
        assert in_parquet == PARQUET, f"formats without Parquet rows: {PARQUET - in_parquet}"
        print(f"{checked} files checked, {loaded} JSON lines files loaded with datasets {datasets.__version__}, "
              f"{parquet} Parquet files loaded and found equal to their JSON lines")


if __name__ == "__main__":
    main()
